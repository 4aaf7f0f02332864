"""Snapshots as the store keeps them (the lifecycle itself: contracts/test_snapshotter.py): unpacked once per\nchain and shared, ids never reused, an active snapshot neither a parent nor cached."""

from __future__ import annotations

import io
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _store_images import add_image, blob_file, make_layer, snapshot_id_of

from slipway.errors import DigestMismatch, StoreError
from slipway.image.oci import chain_ids
from slipway.store import SnapshotRecord, Store
from slipway.worker.mount_plan import Overlay


def files_in(snapshot: SnapshotRecord) -> dict[str, bytes]:
    return {
        str(path.relative_to(snapshot.path)): path.read_bytes()
        for path in snapshot.path.rglob("*")
        if path.is_file()
    }


def snapshot_dirs(store: Store) -> list[str]:
    return sorted(path.name for path in (store.root / "snapshots").iterdir())


def test_snapshot_for_image_unpacks_each_layer_once(store: Store, tmp_path: Path) -> None:
    base = make_layer(store.blobs, tmp_path, {"etc/os-release": b"NAME=base\n"})
    app = make_layer(store.blobs, tmp_path, {"app/main": b"#!/bin/sh\n"})
    image = add_image(store.images, [base, app], ["app"])
    top = store.snapshots.unpack_image(image)
    assert top is not None and top.committed
    chain = store.snapshots.chain(top.id)
    assert [snapshot.diff_id for snapshot in chain] == [base.diff_id, app.diff_id]
    assert [snapshot.chain_id for snapshot in chain] == list(chain_ids([base.diff_id, app.diff_id]))
    assert chain[0].parent is None and chain[1].parent == chain[0].id
    assert files_in(chain[0]) == {"etc/os-release": b"NAME=base\n"}
    assert files_in(chain[1]) == {"app/main": b"#!/bin/sh\n"}
    assert top.path == store.root / "snapshots" / str(top.id) / "fs"
    assert top.work == store.root / "snapshots" / str(top.id) / "work"
    before = snapshot_dirs(store)
    assert store.snapshots.unpack_image(image) == top
    assert snapshot_dirs(store) == before


def test_images_share_the_snapshots_of_common_layers(store: Store, tmp_path: Path) -> None:
    base = make_layer(store.blobs, tmp_path, {"lib/libc.so": b"libc"})
    first = add_image(store.images, [base, make_layer(store.blobs, tmp_path, {"one": b"1"})], ["one"])
    second = add_image(store.images, [base, make_layer(store.blobs, tmp_path, {"two": b"2"})], ["two"])
    first_top = store.snapshots.unpack_image(first)
    second_top = store.snapshots.unpack_image(second)
    assert first_top is not None and second_top is not None
    assert first_top.parent == second_top.parent
    assert len(snapshot_dirs(store)) == 3


def test_threads_wanting_one_image_get_one_snapshot(store: Store, tmp_path: Path) -> None:
    layers = [make_layer(store.blobs, tmp_path, {f"layer{index}/data": bytes(20_000)}) for index in range(4)]
    image = add_image(store.images, layers, ["app"])
    with ThreadPoolExecutor(max_workers=6) as pool:
        tops = list(pool.map(lambda _: store.snapshots.unpack_image(image), range(12)))
    assert len({top.id for top in tops if top is not None}) == 1
    assert len(snapshot_dirs(store)) == 4


def test_a_layer_that_does_not_unpack_to_its_diff_id_leaves_no_snapshot(store: Store, tmp_path: Path) -> None:
    good = make_layer(store.blobs, tmp_path, {"a": b"a"})
    image = add_image(store.images, [good], ["app"])
    # The blob is replaced behind the store's back (disk corruption): the unpack notices.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("evil"))
    path = blob_file(store, good.descriptor.digest)
    path.chmod(0o644)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(DigestMismatch, match=f"image says {good.diff_id}"):
        store.snapshots.unpack_image(image)
    assert snapshot_dirs(store) == []


def test_a_plan_writes_into_the_snapshot_s_own_dirs(store: Store) -> None:
    plan = store.snapshots.prepare("step", None)
    snapshot_id = snapshot_id_of(plan)
    assert plan == Overlay(
        (),
        upper=store.root / "snapshots" / str(snapshot_id) / "fs",
        work=store.root / "snapshots" / str(snapshot_id) / "work",
    )
    committed = store.snapshots.commit("step")
    assert (committed.id, committed.path, committed.work) == (snapshot_id, plan.upper, plan.work)


def test_an_active_snapshot_is_no_parent_and_has_no_cache_record(store: Store) -> None:
    active = snapshot_id_of(store.snapshots.prepare("step", None))
    with pytest.raises(
        StoreError, match=f"cannot create a snapshot on {active}: it is not a committed snapshot"
    ):
        store.snapshots.prepare("child", active)
    with pytest.raises(StoreError, match="commit it first"):
        store.cache.record("key", active)
    store.snapshots.commit("step")
    store.cache.record("key", active)
    assert store.cache.lookup("key") == store.snapshots.get(active)


def test_snapshot_ids_are_never_reused(store: Store) -> None:
    first = snapshot_id_of(store.snapshots.prepare("first", None))
    store.snapshots.remove("first")
    assert snapshot_id_of(store.snapshots.prepare("second", None)) > first
    assert snapshot_dirs(store) == [str(first + 1)]
