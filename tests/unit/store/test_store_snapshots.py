"""Snapshots: unpacked once per chain and shared, the build's lifecycle, cache records."""

from __future__ import annotations

import hashlib
import io
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _store_images import add_image, make_layer

from slipway.errors import DigestMismatch, StoreError
from slipway.image.layers import LayerInfo
from slipway.image.oci import MEDIA_OCI_LAYER, Descriptor, DiffID, Digest, chain_ids
from slipway.store import SnapshotRecord, Store


def files_in(snapshot: SnapshotRecord) -> dict[str, bytes]:
    return {
        str(path.relative_to(snapshot.path)): path.read_bytes()
        for path in snapshot.path.rglob("*")
        if path.is_file()
    }


def snapshot_dirs(store: Store) -> list[str]:
    return sorted(path.name for path in (store.root / "snapshots").iterdir())


def test_snapshot_for_image_unpacks_each_layer_once(store: Store, tmp_path: Path) -> None:
    base = make_layer(store, tmp_path, {"etc/os-release": b"NAME=base\n"})
    app = make_layer(store, tmp_path, {"app/main": b"#!/bin/sh\n"})
    image = add_image(store, [base, app], ["app"])
    top = store.snapshot_for_image(image)
    assert top is not None and top.committed
    chain = store.snapshot_chain(top.id)
    assert [snapshot.diff_id for snapshot in chain] == [base.diff_id, app.diff_id]
    assert [snapshot.chain_id for snapshot in chain] == list(chain_ids([base.diff_id, app.diff_id]))
    assert chain[0].parent is None and chain[1].parent == chain[0].id
    assert files_in(chain[0]) == {"etc/os-release": b"NAME=base\n"}
    assert files_in(chain[1]) == {"app/main": b"#!/bin/sh\n"}
    assert top.path == store.root / "snapshots" / str(top.id) / "fs"
    assert top.work == store.root / "snapshots" / str(top.id) / "work"
    before = snapshot_dirs(store)
    assert store.snapshot_for_image(image) == top
    assert snapshot_dirs(store) == before


def test_images_share_the_snapshots_of_common_layers(store: Store, tmp_path: Path) -> None:
    base = make_layer(store, tmp_path, {"lib/libc.so": b"libc"})
    first = add_image(store, [base, make_layer(store, tmp_path, {"one": b"1"})], ["one"])
    second = add_image(store, [base, make_layer(store, tmp_path, {"two": b"2"})], ["two"])
    first_top = store.snapshot_for_image(first)
    second_top = store.snapshot_for_image(second)
    assert first_top is not None and second_top is not None
    assert first_top.parent == second_top.parent
    assert len(snapshot_dirs(store)) == 3


def test_threads_wanting_one_image_get_one_snapshot(store: Store, tmp_path: Path) -> None:
    layers = [make_layer(store, tmp_path, {f"layer{index}/data": bytes(20_000)}) for index in range(4)]
    image = add_image(store, layers, ["app"])
    with ThreadPoolExecutor(max_workers=6) as pool:
        tops = list(pool.map(lambda _: store.snapshot_for_image(image), range(12)))
    assert len({top.id for top in tops if top is not None}) == 1
    assert len(snapshot_dirs(store)) == 4


def test_a_layer_that_does_not_unpack_to_its_diff_id_leaves_no_snapshot(store: Store, tmp_path: Path) -> None:
    good = make_layer(store, tmp_path, {"a": b"a"})
    image = add_image(store, [good], ["app"])
    # The blob is replaced behind the store's back (disk corruption): the unpack notices.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("evil"))
    path = store.blob_path(good.descriptor.digest)
    path.chmod(0o644)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(DigestMismatch, match=f"image says {good.diff_id}"):
        store.snapshot_for_image(image)
    assert snapshot_dirs(store) == []


def test_build_lifecycle_create_commit_set_layer(store: Store, tmp_path: Path) -> None:
    base = store.create_snapshot(None)
    assert not base.committed and base.path.is_dir() and base.work.is_dir()
    (base.path / "file").write_text("from a RUN")
    with pytest.raises(StoreError, match="not a committed snapshot"):
        store.create_snapshot(base.id)
    base = store.commit_snapshot(base.id)
    child = store.create_snapshot(base.id)
    assert child.parent == base.id
    child = store.commit_snapshot(child.id)
    info_base = _layer_info("base")
    info_child = _layer_info("child")
    with pytest.raises(StoreError, match="parent .* has no layer yet"):
        store.set_snapshot_layer(child.id, info_child)
    base = store.set_snapshot_layer(base.id, info_base)
    child = store.set_snapshot_layer(child.id, info_child)
    assert base.chain_id == info_base.diff_id
    assert child.chain_id == chain_ids([info_base.diff_id, info_child.diff_id])[1]
    assert store.layer_by_diff_id(info_child.diff_id) is None  # recorded, but its blob is not in the store
    assert store.get_snapshot(child.id) == child
    assert store.snapshot_chain(child.id) == [base, child]


def test_remove_snapshot(store: Store) -> None:
    parent = store.commit_snapshot(store.create_snapshot(None).id)
    child = store.create_snapshot(parent.id)
    with pytest.raises(StoreError, match=f"snapshots {child.id} are built on it"):
        store.remove_snapshot(parent.id)
    store.remove_snapshot(child.id)
    store.remove_snapshot(child.id)  # idempotent
    assert not child.path.exists()
    with pytest.raises(StoreError, match=f"no snapshot {child.id}"):
        store.get_snapshot(child.id)
    store.remove_snapshot(parent.id)
    assert snapshot_dirs(store) == []


def test_snapshot_ids_are_never_reused(store: Store) -> None:
    first = store.create_snapshot(None)
    store.remove_snapshot(first.id)
    assert store.create_snapshot(None).id > first.id


def test_cache_records(store: Store) -> None:
    active = store.create_snapshot(None)
    with pytest.raises(StoreError, match="commit it first"):
        store.cache_record("key", active.id)
    committed = store.commit_snapshot(active.id)
    assert store.cache_lookup("key") is None
    store.cache_record("key", committed.id)
    assert store.cache_lookup("key") == committed
    store.remove_snapshot(committed.id)
    assert store.cache_lookup("key") is None


def _layer_info(name: str) -> LayerInfo:
    diff_id = DiffID("sha256:" + hashlib.sha256(name.encode()).hexdigest())
    digest = Digest("sha256:" + hashlib.sha256(b"blob " + name.encode()).hexdigest())
    return LayerInfo(
        diff_id=diff_id,
        descriptor=Descriptor(media_type=MEDIA_OCI_LAYER, digest=digest, size=1),
        uncompressed_size=1,
    )
