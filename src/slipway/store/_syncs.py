"""Sync, then publish: what may point at a snapshot whose tree is still being written to disk.

Every snapshot a step writes is synced here, in the background: one written directly (a `Direct` plan), and
one written through overlay, whose mount is volatile so that its unmount does not sync the file system on the
step's critical path. The snapshotter commits it at once, so later steps of the same build may build on it
(and the sync of a big RUN's output overlaps the next steps and the measuring of its layer), but nothing that
outlives this process points at it until its sync has ended — no cache record, no layer or chain id, no image, no memo — so that a crash
never leaves a record of a half-written tree. What would point at it is held and written by `publish`, which
whoever writes such a record calls first (the snapshotter's `set_layer`, the image store's `add`, the memos'
`remember`, and the store's `close`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

__all__ = ["Syncs", "sync_now"]


def sync_now(path: Path) -> None:
    """syncfs(2) of the file system holding `path`, before returning."""
    from slipway.worker.snapshots import sync_filesystem  # only builds that wrote a tree

    sync_filesystem(path)


class Syncs:
    """The syncs of one open store's newly written snapshots, and the writes that wait for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._syncing: dict[int, Future[None]] = {}
        self._held: list[Callable[[], None]] = []

    def start(self, snapshot_id: int, path: Path) -> None:
        """Sync the file system of `path` (the snapshot's tree) in the background."""
        synced: Future[None] = Future()

        def run() -> None:
            try:
                sync_now(path)
            except BaseException as err:  # noqa: BLE001 - handed to whoever publishes
                synced.set_exception(err)
            else:
                synced.set_result(None)

        with self._lock:
            self._syncing[snapshot_id] = synced
        threading.Thread(target=run, name=f"sync-{snapshot_id}", daemon=True).start()

    def after_sync(self, snapshot_id: int, write: Callable[[], None]) -> bool:
        """Hold `write` until `publish` if `snapshot_id` is being synced (True); False: write it now."""
        with self._lock:
            if snapshot_id not in self._syncing:
                return False
            self._held.append(write)
            return True

    def publish(self) -> None:
        """Wait for every sync started so far, then do the writes held for them. A failed sync raises here,
        and nothing held is written."""
        with self._lock:
            syncing, self._syncing = self._syncing, {}
            held, self._held = self._held, []
        for synced in syncing.values():
            synced.result()
        for write in held:
            write()
