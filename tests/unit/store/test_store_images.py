"""Image records as the store keeps them (the contract itself: contracts/test_image_store.py): layers measured or
refused as they come from outside, records shared by threads, processes and later opens."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import pytest
from _store_images import add_image, image_parts, make_layer

from slipway.errors import DigestMismatch, StoreError
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    Descriptor,
    DiffID,
    RootFS,
    encode_json,
    sha256_digest,
)
from slipway.store import ImageRecord, Store


def test_size_of_a_layer_the_store_never_saw_packed(store: Store, tmp_path: Path) -> None:
    """A pulled or loaded layer: add_image measures it (and checks its diff_id)."""
    layer = make_layer(store.blobs, tmp_path, {"data": b"z" * 50_000})
    other_root = tmp_path / "other"
    with Store.open(other_root) as fresh:
        fresh.blobs.put(store.blobs.read(layer.descriptor.digest))
        image = add_image(fresh.images, [layer])
        assert image.size == 50_000
        assert fresh.images.layer(layer.diff_id) == layer


def test_a_layer_whose_diff_id_lies_is_refused(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store.blobs, tmp_path, {"a": b"a"})
    with Store.open(tmp_path / "other") as fresh:
        fresh.blobs.put(store.blobs.read(layer.descriptor.digest))
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
            fresh.images.add(manifest, lying)
        assert fresh.images.list() == []


def test_every_layer_blob_must_be_there(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store.blobs, tmp_path, {"a": b"a"})
    with Store.open(tmp_path / "other") as fresh:
        with pytest.raises(StoreError, match=layer.descriptor.digest):
            add_image(fresh.images, [layer], ["app"])
        assert fresh.images.list() == []


def test_an_image_without_layers(store: Store) -> None:
    image = add_image(store.images, [], ["empty"])
    assert image.size == 0
    assert store.images.resolve("empty") == image
    assert store.snapshots.unpack_image(image) is None


def test_records_survive_reopening(tmp_path: Path) -> None:
    with Store.open(tmp_path / "root") as store:
        image = add_image(store.images, [make_layer(store.blobs, tmp_path, {"a": b"a"})], ["app"])
    with Store.open(tmp_path / "root") as store:
        assert store.images.resolve("app") == image


def test_threads_add_images_at_once(store: Store, tmp_path: Path) -> None:
    def build(index: int) -> ImageRecord:
        layer = make_layer(
            store.blobs, tmp_path / f"t{index}", {"shared": b"same in all", f"own{index}": b"%d" % index}
        )
        return add_image(store.images, [layer], [f"app:{index}", "app:latest"], label=str(index))

    with ThreadPoolExecutor(max_workers=8) as pool:
        images = list(pool.map(build, range(24)))
    for index, image in enumerate(images):
        assert store.images.resolve(f"app:{index}").id == image.id
    assert store.images.resolve("app:latest").id in {image.id for image in images}
    assert len(store.images.list()) == 24
    assert store.check() == []


def _add_from_another_process(root: str, index: int) -> str:
    with Store.open(Path(root)) as store:
        layer = make_layer(store.blobs, Path(root) / "work" / str(index), {f"file{index}": b"%d" % index})
        return add_image(store.images, [layer], [f"proc:{index}"], label=str(index)).id


def test_processes_share_one_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        ids = pool.starmap(_add_from_another_process, [(str(root), index) for index in range(8)])
    with Store.open(root) as store:
        assert [store.images.resolve(f"proc:{index}").id for index in range(8)] == ids
