"""Sync, then publish: a snapshot a build's step wrote (directly, or through a volatile overlay) is committed at
once, held by the build, but nothing that outlives the process points at it (a cache record, its layer, an image,
a memo) until its tree is synced to disk. An unheld snapshot is synced before its commit returns."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _store_images import written_tree

from slipway.image.layers import measure_tree
from slipway.store import NewTree, Store
from slipway.worker import snapshots as worker_snapshots
from slipway.worker.mount_plan import Direct


class SlowSync:
    """syncfs as the snapshotter calls it, held until the test lets it end (or fail); counts the calls."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.error: OSError | None = None
        self.synced: list[Path] = []

    def __call__(self, path: Path) -> None:
        assert self.release.wait(timeout=30)
        if self.error is not None:
            raise self.error
        self.synced.append(path)


@pytest.fixture
def slow_sync(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowSync]:
    sync = SlowSync()
    monkeypatch.setattr(worker_snapshots, "sync_filesystem", sync)
    yield sync
    sync.release.set()  # no sync thread is left waiting


def direct_snapshot(store: Store, key: str) -> Path:
    plan = store.snapshots.prepare(key, None, NewTree("app"))
    assert isinstance(plan, Direct)
    (written_tree(plan) / "app").mkdir()
    (written_tree(plan) / "app" / "file").write_bytes(b"copied")
    return plan.path


def test_a_cache_record_waits_for_the_sync(tmp_path: Path, slow_sync: SlowSync) -> None:
    root = tmp_path / "root"
    with Store.open(root) as store, store.leases.hold() as hold:
        tree = direct_snapshot(store, "copy")
        snapshot = store.snapshots.commit("copy", hold=hold)
        assert store.snapshots.get(snapshot.id).committed  # later steps may build on it at once
        store.cache.record("key", snapshot.id)
        assert store.cache.lookup("key") is None  # held: the tree may not be on disk yet
        slow_sync.release.set()
    assert slow_sync.synced == [tree]
    with Store.open(root) as store:
        found = store.cache.lookup("key")
        assert found is not None and found.id == snapshot.id


def test_a_layer_waits_for_the_sync(store: Store, slow_sync: SlowSync) -> None:
    direct_snapshot(store, "copy")
    with store.leases.hold() as hold:
        snapshot = store.snapshots.commit("copy", hold=hold)
    info = measure_tree(snapshot.path)
    slow_sync.release.set()
    store.snapshots.set_layer(snapshot.id, info, deferred=True)  # waits for the sync first
    assert slow_sync.synced == [snapshot.path]


def test_a_snapshot_written_through_overlay_waits_for_its_sync_too(
    tmp_path: Path, slow_sync: SlowSync
) -> None:
    # Its overlay was volatile: the unmount synced nothing, so its tree is synced as a direct one is.
    root = tmp_path / "root"
    with Store.open(root) as store, store.leases.hold() as hold:
        plan = store.snapshots.prepare("run", None)
        (written_tree(plan) / "out").write_bytes(b"built")
        snapshot = store.snapshots.commit("run", hold=hold)
        store.cache.record("key", snapshot.id)
        assert store.cache.lookup("key") is None
        slow_sync.release.set()
    assert slow_sync.synced == [snapshot.path]
    with Store.open(root) as store:
        found = store.cache.lookup("key")
        assert found is not None and found.id == snapshot.id


def test_a_failed_sync_leaves_no_cache_record(tmp_path: Path, slow_sync: SlowSync) -> None:
    root = tmp_path / "root"
    store = Store.open(root)
    direct_snapshot(store, "copy")
    with store.leases.hold() as hold:
        snapshot = store.snapshots.commit("copy", hold=hold)
        store.cache.record("key", snapshot.id)
    slow_sync.error = OSError(5, "Input/output error")
    slow_sync.release.set()
    with pytest.raises(OSError, match="Input/output error"):
        store.close()
    with Store.open(root) as reopened:
        assert reopened.cache.lookup("key") is None


def test_an_unheld_snapshot_is_synced_before_its_commit_returns(store: Store, slow_sync: SlowSync) -> None:
    # Nothing would keep it from gc until a later publish: its tree is on disk before anything may point at it.
    slow_sync.release.set()
    plan = store.snapshots.prepare("run", None)
    (written_tree(plan) / "out").write_bytes(b"built")
    snapshot = store.snapshots.commit("run")
    assert slow_sync.synced == [snapshot.path]
    store.cache.record("key", snapshot.id)
    assert store.cache.lookup("key") == snapshot  # written at once: there is no sync left to wait for


def test_gc_after_the_hold_ends_keeps_a_snapshot_whose_record_waited_for_its_sync(
    store: Store, slow_sync: SlowSync
) -> None:
    # A build exported only to an archive: its hold ends, then it collects the archive's blobs. The steps'
    # cache records, still waiting for their syncs, are written first, so gc keeps what they point at.
    with store.leases.hold() as hold:
        plan = store.snapshots.prepare("run", None)
        (written_tree(plan) / "out").write_bytes(b"built")
        snapshot = store.snapshots.commit("run", hold=hold)
        store.cache.record("key", snapshot.id)
    slow_sync.release.set()

    store.gc()

    assert store.cache.lookup("key") == snapshot
    assert (snapshot.path / "out").read_bytes() == b"built"
