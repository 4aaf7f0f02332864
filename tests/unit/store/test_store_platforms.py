"""A name holds one image per platform: a pull or load for arm64 keeps the name's amd64 image, a build's result
replaces them all, and a platform the name lacks is never answered with another's image."""

from __future__ import annotations

from pathlib import Path

import pytest
from _store_images import image_parts, make_layer

from slipway.errors import ImageNotFound
from slipway.image.oci import Platform
from slipway.store import ImageRecord, Store

AMD64 = Platform(architecture="amd64", os="linux")
ARM64 = Platform(architecture="arm64", os="linux")


def add(
    store: Store, tmp_path: Path, architecture: str, *, replace: bool = False, marker: str = ""
) -> ImageRecord:
    layer = make_layer(store.blobs, tmp_path / "work", {"arch": (architecture + marker).encode()})
    manifest, config = image_parts([layer], architecture=architecture, label=marker)
    return store.images.add(manifest, config, ["app:v1"], replace_platforms=replace)


def test_a_name_keeps_an_image_per_platform(store: Store, tmp_path: Path) -> None:
    amd64 = add(store, tmp_path, "amd64")
    arm64 = add(store, tmp_path, "arm64")
    assert store.images.resolve("app:v1", ARM64).id == arm64.id
    assert store.images.resolve("app:v1", AMD64).id == amd64.id
    # The name shows this machine's image (as docker runs the host's image of an index).
    assert store.images.resolve("app:v1").id == amd64.id
    assert {image.id for image in store.images.members("app:v1")} == {amd64.id, arm64.id}
    assert all(image.names == ("docker.io/library/app:v1",) for image in store.images.list())


def test_a_new_image_for_a_platform_replaces_only_that_platforms(store: Store, tmp_path: Path) -> None:
    add(store, tmp_path, "amd64")
    arm64 = add(store, tmp_path, "arm64")
    newer = add(store, tmp_path, "amd64", marker="2")
    assert {image.id for image in store.images.members("app:v1")} == {newer.id, arm64.id}
    orphans = [image for image in store.images.list() if not image.names]
    assert len(orphans) == 1 and orphans[0].id not in (newer.id, arm64.id)


def test_a_build_replaces_every_platform(store: Store, tmp_path: Path) -> None:
    add(store, tmp_path, "amd64")
    add(store, tmp_path, "arm64")
    built = add(store, tmp_path, "amd64", replace=True, marker="built")
    assert [image.id for image in store.images.members("app:v1")] == [built.id]
    with pytest.raises(ImageNotFound, match="for linux/amd64, not for linux/arm64"):
        store.images.resolve("app:v1", ARM64)


def test_untag_of_one_image_keeps_the_others(store: Store, tmp_path: Path) -> None:
    amd64 = add(store, tmp_path, "amd64")
    arm64 = add(store, tmp_path, "arm64")
    store.images.untag("app:v1", amd64)
    assert store.images.resolve("app:v1").id == arm64.id
    store.images.remove(store.images.resolve(arm64.id))
    with pytest.raises(ImageNotFound):
        store.images.resolve("app:v1")


def test_removing_the_shown_image_shows_another(store: Store, tmp_path: Path) -> None:
    amd64 = add(store, tmp_path, "amd64")
    arm64 = add(store, tmp_path, "arm64")
    store.images.remove(amd64)
    assert store.images.resolve("app:v1").id == arm64.id


def test_an_image_id_of_another_platform_is_refused_for_a_platform(store: Store, tmp_path: Path) -> None:
    amd64 = add(store, tmp_path, "amd64")
    with pytest.raises(ImageNotFound, match="not for linux/arm64"):
        store.images.resolve(amd64.id, ARM64)


def test_set_members_names_exactly_those(store: Store, tmp_path: Path) -> None:
    amd64 = add(store, tmp_path, "amd64")
    arm64 = add(store, tmp_path, "arm64")
    store.images.set_members("app:v1", [arm64])
    assert [image.id for image in store.images.members("app:v1")] == [arm64.id]
    store.images.set_members("app:v1", [amd64, arm64])
    assert [image.id for image in store.images.members("app:v1")] == [amd64.id, arm64.id]
