"""The CacheRecords contract: a cache key names a committed snapshot; records are listed oldest first and go
with forget, clear or their snapshot."""

from __future__ import annotations

import pytest
from _store_images import commit_files

from slipway.errors import StoreError
from slipway.store import CacheRecords, Snapshotter


def test_a_record_names_a_committed_snapshot(cache: CacheRecords, snapshots: Snapshotter) -> None:
    assert cache.lookup("key") is None
    snapshot = commit_files(snapshots, {"file": b"x"})
    cache.record("key", snapshot.id)
    assert cache.lookup("key") == snapshot
    other = commit_files(snapshots, {"file": b"y"})
    cache.record("key", other.id)  # a key names one snapshot: the last recorded
    assert cache.lookup("key") == other


def test_a_missing_snapshot_is_not_recorded(cache: CacheRecords) -> None:
    with pytest.raises(StoreError, match="no snapshot 4242"):
        cache.record("key", 4242)
    assert cache.lookup("key") is None


def test_entries_forget_and_clear(cache: CacheRecords, snapshots: Snapshotter) -> None:
    made = [commit_files(snapshots, {"n": bytes([index])}) for index in range(4)]
    for index, snapshot in enumerate(made):
        cache.record(f"key-{index}", snapshot.id)
    entries = cache.entries()
    assert [(entry.key, entry.snapshot_id) for entry in entries] == [
        (f"key-{index}", snapshot.id) for index, snapshot in enumerate(made)
    ]
    assert [entry.created for entry in entries] == sorted(entry.created for entry in entries)
    assert cache.forget(["key-1", "key-3", "never recorded"]) == 2
    assert [entry.key for entry in cache.entries()] == ["key-0", "key-2"]
    assert cache.lookup("key-1") is None
    assert snapshots.get(made[1].id) == made[1]  # the snapshot stays until gc
    assert cache.clear() == 2
    assert cache.entries() == []
    assert cache.clear() == 0
