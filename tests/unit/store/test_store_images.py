"""Images in the store: add, resolve (name, ID, prefix, digest), tags moving, removal, many writers at once."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import pytest
from _store_images import add_image, image_parts, make_layer

from slipway.errors import DigestMismatch, ImageNotFound, InvalidReference, StoreError
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    Descriptor,
    DiffID,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
    sha256_digest,
)
from slipway.store import ImageRecord, Store


def test_add_and_resolve_by_name(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store, tmp_path, {"hello.txt": b"hello\n"})
    image = add_image(store, [layer], ["golang:1.24", "localhost:5000/team/app:v1"])
    assert image.names == ("docker.io/library/golang:1.24", "localhost:5000/team/app:v1")
    assert image.id == image.manifest.config.digest
    assert image.created == "2024-01-01T00:00:00Z"
    for ref in (
        "golang:1.24",
        "docker.io/library/golang:1.24",
        "library/golang:1.24",
        "localhost:5000/team/app:v1",
    ):
        assert store.resolve_image(ref) == image


def test_blobs_of_an_image_are_stored_and_match(store: Store, tmp_path: Path) -> None:
    image = add_image(store, [make_layer(store, tmp_path, {"a": b"a"})], ["app"])
    assert msgspec.json.decode(store.read_blob(image.manifest_digest), type=Manifest) == image.manifest
    assert msgspec.json.decode(store.read_blob(image.id), type=ImageConfig) == image.config
    assert sha256_digest(store.read_blob(image.manifest_digest)) == image.manifest_digest


def test_size_is_the_files_bytes_as_docker_counts_them(store: Store, tmp_path: Path) -> None:
    first = make_layer(store, tmp_path, {"big": b"x" * 100_000})
    second = make_layer(store, tmp_path, {"small": b"y", "dir/two": b"yz"})
    image = add_image(store, [first, second])
    assert (
        image.size == 100_000 + 1 + 2
    )  # not the tars' bytes, whose headers and padding Docker does not count
    assert first.uncompressed_size > 100_000 > first.descriptor.size


def test_size_of_a_layer_the_store_never_saw_packed(store: Store, tmp_path: Path) -> None:
    """A pulled or loaded layer: add_image measures it (and checks its diff_id)."""
    layer = make_layer(store, tmp_path, {"data": b"z" * 50_000})
    other_root = tmp_path / "other"
    with Store.open(other_root) as fresh:
        fresh.put_blob(store.read_blob(layer.descriptor.digest))
        image = add_image(fresh, [layer])
        assert image.size == 50_000
        assert fresh.layer_by_diff_id(layer.diff_id) == layer


def test_a_layer_whose_diff_id_lies_is_refused(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store, tmp_path, {"a": b"a"})
    with Store.open(tmp_path / "other") as fresh:
        fresh.put_blob(store.read_blob(layer.descriptor.digest))
        manifest, config = image_parts([layer])
        lying = msgspec.structs.replace(config, rootfs=RootFS(diff_ids=(DiffID(sha256_digest(b"not it")),)))
        config_bytes = encode_json(lying)
        manifest = msgspec.structs.replace(
            manifest,
            config=Descriptor(
                media_type=MEDIA_OCI_CONFIG, digest=sha256_digest(config_bytes), size=len(config_bytes)
            ),
        )
        with pytest.raises(DigestMismatch, match=layer.descriptor.digest):
            fresh.add_image(manifest, lying)
        assert fresh.list_images() == []


def test_every_layer_blob_must_be_there(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store, tmp_path, {"a": b"a"})
    with Store.open(tmp_path / "other") as fresh:
        with pytest.raises(StoreError, match=layer.descriptor.digest):
            add_image(fresh, [layer], ["app"])
        assert fresh.list_images() == []


def test_layer_count_must_match_the_diff_ids(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store, tmp_path, {"a": b"a"})
    manifest, config = image_parts([layer, layer])
    manifest = msgspec.structs.replace(manifest, layers=manifest.layers[:1])
    with pytest.raises(StoreError, match="1 layers but the config has 2 diff_ids"):
        store.add_image(manifest, config)


def test_original_config_and_manifest_bytes_keep_their_digests(store: Store, tmp_path: Path) -> None:
    """An image from outside: its config has fields slipway does not model and its own key order."""
    layer = make_layer(store, tmp_path, {"a": b"a"})
    config_bytes = (
        b'{"os":"linux","architecture":"amd64","moby.extra":{"x":1},'
        b'"rootfs":{"type":"layers","diff_ids":["' + layer.diff_id.encode() + b'"]}}'
    )
    config_digest = store.put_blob(config_bytes)
    manifest_bytes = (
        b'{\n  "schemaVersion": 2,\n  "mediaType": "application/vnd.oci.image.manifest.v1+json",\n'
        b'  "config": {"mediaType": "'
        + MEDIA_OCI_CONFIG.encode()
        + b'", "digest": "'
        + config_digest.encode()
        + b'", "size": '
        + str(len(config_bytes)).encode()
        + b'},\n  "layers": ['
        + encode_json(layer.descriptor)
        + b"]\n}\n"
    )
    manifest_digest = store.put_blob(manifest_bytes)
    image = store.add_image(
        msgspec.json.decode(manifest_bytes, type=Manifest),
        msgspec.json.decode(config_bytes, type=ImageConfig),
        ["outside:1"],
        manifest_digest=manifest_digest,
    )
    assert image.id == config_digest
    assert image.manifest_digest == manifest_digest
    assert store.read_blob(image.id) == config_bytes
    assert store.resolve_image(f"outside@{manifest_digest}") == image


def test_a_config_that_does_not_match_its_digest_is_refused(store: Store, tmp_path: Path) -> None:
    manifest, config = image_parts([make_layer(store, tmp_path, {"a": b"a"})])
    other = msgspec.structs.replace(config, os="windows")
    with pytest.raises(DigestMismatch):
        store.add_image(manifest, other)


def test_resolve_by_full_id_short_id_and_manifest_digest(store: Store, tmp_path: Path) -> None:
    image = add_image(store, [make_layer(store, tmp_path, {"a": b"a"})], ["app:1"])
    hex_id = image.id.removeprefix("sha256:")
    assert store.resolve_image(image.id) == image
    assert store.resolve_image(hex_id) == image
    assert store.resolve_image(hex_id[:12]) == image
    assert store.resolve_image("sha256:" + hex_id[:12]) == image
    assert store.resolve_image(f"app@{image.manifest_digest}") == image
    assert store.resolve_image(f"docker.io/library/app:1@{image.manifest_digest}") == image


def test_an_ambiguous_id_prefix_is_not_found(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store, tmp_path, {"a": b"a"})
    images: dict[str, ImageRecord] = {}
    label = 0
    while True:  # images whose IDs share a first hex digit
        image = add_image(store, [layer], label=f"image {label}")
        label += 1
        first = image.id[len("sha256:")]
        if first in images:
            break
        images[first] = image
    with pytest.raises(ImageNotFound, match="matches 2 images"):
        store.resolve_image(first)
    assert store.resolve_image(image.id[7:20]) == image


def test_a_name_wins_over_an_id_prefix(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store, tmp_path, {"a": b"a"})
    first = add_image(store, [layer], label="first")
    prefix = first.id[7:11]
    second = add_image(store, [layer], [prefix], label="second")
    assert store.resolve_image(prefix) == second


@pytest.mark.parametrize("ref", ["missing:1", "sha256:" + "0" * 64, "abcdef", "app@sha256:" + "0" * 64])
def test_unknown_refs_are_not_found_naming_the_ref(store: Store, tmp_path: Path, ref: str) -> None:
    add_image(store, [make_layer(store, tmp_path, {"a": b"a"})], ["app"])
    with pytest.raises(ImageNotFound) as caught:
        store.resolve_image(ref)
    assert repr(ref) in str(caught.value)


def test_a_moved_name_leaves_the_old_image_dangling(store: Store, tmp_path: Path) -> None:
    old = add_image(
        store, [make_layer(store, tmp_path, {"v": b"1"})], ["app:latest"], created="2024-01-01T00:00:00Z"
    )
    new = add_image(
        store, [make_layer(store, tmp_path, {"v": b"2"})], ["app"], created="2024-02-01T00:00:00Z"
    )
    assert store.resolve_image("app") == new
    assert store.resolve_image(old.id).names == ()
    assert [image.id for image in store.list_images()] == [new.id, old.id]  # newest first


def test_tag_untag_and_remove(store: Store, tmp_path: Path) -> None:
    image = add_image(store, [make_layer(store, tmp_path, {"a": b"a"})], ["app:1"])
    store.tag_image(image, "app:2")
    assert store.resolve_image("app:2").names == ("docker.io/library/app:1", "docker.io/library/app:2")
    untagged = store.untag("app:1")
    assert untagged is not None and untagged.names == ("docker.io/library/app:2",)
    assert store.untag("app:1") is None
    with pytest.raises(ImageNotFound):
        store.resolve_image("app:1")
    store.remove_image(image)
    assert store.list_images() == []
    with pytest.raises(ImageNotFound):
        store.resolve_image("app:2")
    with pytest.raises(ImageNotFound):
        store.tag_image(image, "app:3")


def test_a_name_with_a_digest_is_not_a_tag(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store, tmp_path, {"a": b"a"})
    with pytest.raises(InvalidReference, match="digest"):
        add_image(store, [layer], ["app@sha256:" + "0" * 64])
    with pytest.raises(InvalidReference):
        add_image(store, [layer], ["Not Valid"])
    assert store.list_images() == []


def test_an_image_without_layers(store: Store) -> None:
    image = add_image(store, [], ["empty"])
    assert image.size == 0
    assert store.resolve_image("empty") == image
    assert store.snapshot_for_image(image) is None


def test_records_survive_reopening(tmp_path: Path) -> None:
    with Store.open(tmp_path / "root") as store:
        image = add_image(store, [make_layer(store, tmp_path, {"a": b"a"})], ["app"])
    with Store.open(tmp_path / "root") as store:
        assert store.resolve_image("app") == image


def test_threads_add_images_at_once(store: Store, tmp_path: Path) -> None:
    def build(index: int) -> ImageRecord:
        layer = make_layer(
            store, tmp_path / f"t{index}", {"shared": b"same in all", f"own{index}": b"%d" % index}
        )
        return add_image(store, [layer], [f"app:{index}", "app:latest"], label=str(index))

    with ThreadPoolExecutor(max_workers=8) as pool:
        images = list(pool.map(build, range(24)))
    for index, image in enumerate(images):
        assert store.resolve_image(f"app:{index}").id == image.id
    assert store.resolve_image("app:latest").id in {image.id for image in images}
    assert len(store.list_images()) == 24
    assert store.check() == []


def _add_from_another_process(root: str, index: int) -> str:
    with Store.open(Path(root)) as store:
        layer = make_layer(store, Path(root) / "work" / str(index), {f"file{index}": b"%d" % index})
        return add_image(store, [layer], [f"proc:{index}"], label=str(index)).id


def test_processes_share_one_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        ids = pool.starmap(_add_from_another_process, [(str(root), index) for index in range(8)])
    with Store.open(root) as store:
        assert [store.resolve_image(f"proc:{index}").id for index in range(8)] == ids
