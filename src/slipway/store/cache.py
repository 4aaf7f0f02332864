"""Build cache records: a step's cache key → the committed snapshot the step made.

Words: a *record* pairs a cache key (solver/keys.py) with a snapshot. Lifecycle: a step's record is written
once its snapshot is committed and its tree synced (a record of a snapshot still syncing is held until the
sync ends, see _syncs.py), looked up by the next build of the same step, and forgotten by `forget`, `clear` or
with its snapshot; the memos of the builds that used it go in the same transaction. A snapshot that no record,
image or live hold needs is gc's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from slipway.errors import StoreError
from slipway.store._syncs import Syncs
from slipway.store.meta import MetaDB
from slipway.store.records import CacheEntry, SnapshotRecord
from slipway.store.snapshots import SnapshotDirs
from slipway.store.space import SpaceReserve

__all__ = ["Cache", "CacheRecords"]


class CacheRecords(Protocol):
    """Build cache records (see the module docstring for the lifecycle)."""

    def lookup(self, key: str) -> SnapshotRecord | None: ...  # the committed snapshot, or None

    def record(self, key: str, snapshot_id: int) -> None: ...  # StoreError unless committed

    def entries(self) -> list[CacheEntry]: ...  # oldest first

    def forget(self, keys: Sequence[str]) -> int: ...  # how many there were

    def clear(self) -> int: ...  # how many there were


class Cache:
    """The build cache records of one store root."""

    def __init__(self, meta: MetaDB, dirs: SnapshotDirs, reserve: SpaceReserve, syncs: Syncs) -> None:
        self._meta = meta
        self._dirs = dirs
        self._reserve = reserve
        self._syncs = syncs

    def lookup(self, key: str) -> SnapshotRecord | None:
        with self._meta.snapshot() as tx:
            snapshot_id = tx.cache_get(key)
            row = tx.snapshot(snapshot_id) if snapshot_id is not None else None
        if row is None or not row.committed:
            return None
        return self._dirs.record(row)

    def record(self, key: str, snapshot_id: int) -> None:
        if not self._syncs.after_sync(snapshot_id, lambda: self._write(key, snapshot_id)):
            self._write(key, snapshot_id)

    def _write(self, key: str, snapshot_id: int) -> None:
        with self._meta.transaction() as tx:
            row = tx.snapshot(snapshot_id)
            if row is None:
                raise StoreError(f"no snapshot {snapshot_id} in the store")
            if not row.committed:
                raise StoreError(f"cannot cache snapshot {snapshot_id} under {key!r}: commit it first")
            tx.cache_put(key, snapshot_id)

    def entries(self) -> list[CacheEntry]:
        """Every build cache record, oldest first."""
        with self._meta.snapshot() as tx:
            rows = tx.cache_entries()
        return [
            CacheEntry(key=key, snapshot_id=snapshot_id, created=created)
            for key, snapshot_id, created in rows
        ]

    def forget(self, keys: Sequence[str]) -> int:
        """Forget these records (their snapshots go at the next gc); how many were removed."""
        with self._reserve.for_cleanup(), self._meta.transaction() as tx:
            return tx.cache_delete(list(keys))

    def clear(self) -> int:
        """Forget every record (their snapshots go at the next gc); how many there were."""
        with self._reserve.for_cleanup(), self._meta.transaction() as tx:
            return tx.cache_clear()
