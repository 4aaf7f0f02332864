"""Leases: what a process has mounted, started or needs kept, recorded in meta.db before it does it.

A process that is killed (kill -9, the OOM killer, a power cut of its session) runs no cleanup: its overlay
mounts stay, its runc containers keep running, and the snapshots it was using have no other claim on them.
So each of those is a row here, written before the mount is made or the container started and removed
only after the mount is gone or the container deleted:

    mount      an overlay, bind or tmpfs mount at `target` (kind "overlay", "bind" or "tmpfs")
    container  a container `target` of the OCI runtime `runtime --root state_root`
    hold       snapshots (lease_snapshots rows) gc keeps while the holder lives: a build's results, the
               image a `slipway run` container runs on (its ID the target)

A lease's owner is "<pid>-<start time>-<store>" (see _owners.py): while that process lives its leases are
its own business; once it is gone, the next store open (or gc) kills its containers, unmounts its mounts
and drops its rows. The undoing is the worker's (worker.mounts, worker.executor), imported only then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import msgspec

from slipway.errors import SlipwayError
from slipway.store._owners import is_alive, parse_owner
from slipway.store.meta import LeaseRow, MetaDB

__all__ = ["Hold", "Lease", "LeaseKind", "Leases", "describe_lease"]

log = logging.getLogger(__name__)

LeaseKind = Literal["overlay", "bind", "tmpfs", "container", "hold"]
MOUNT_KINDS: tuple[LeaseKind, ...] = ("overlay", "bind", "tmpfs")


class Lease(msgspec.Struct, frozen=True):
    id: int
    kind: LeaseKind
    target: str


class Hold:
    """Snapshots gc keeps for as long as the hold's block runs (or its process lives)."""

    def __init__(self, meta: MetaDB, lease: Lease) -> None:
        self._meta = meta
        self.lease = lease

    def add(self, snapshot_id: int) -> bool:
        """Keep `snapshot_id` (and so its parents); False if it is no longer in the store. To get a
        snapshot and hold it with no gc in between, do both inside `store.lease()`."""
        with self._meta.transaction() as tx:
            return tx.hold_snapshot(self.lease.id, snapshot_id)


class Leases:
    """The leases of one open store (its `owner`), and the undoing of those whose owner is gone."""

    def __init__(self, meta: MetaDB, owner: str) -> None:
        self._meta = meta
        self.owner = owner

    @contextmanager
    def mount(self, target: Path, kind: Literal["overlay", "bind", "tmpfs"]) -> Iterator[Lease]:
        """Recorded before the block (which mounts at `target` and unmounts it), forgotten after it."""
        # As the mount table shows it (symlinks in the store root resolved), to match it up there.
        with self._leased(kind, os.path.realpath(target)) as lease:
            yield lease

    @contextmanager
    def container(self, container_id: str, *, runtime: Path, state_root: Path) -> Iterator[Lease]:
        """Recorded before the block (which starts the container and deletes it), forgotten after it."""
        with self._leased(
            "container", container_id, runtime=str(runtime), state_root=str(state_root)
        ) as lease:
            yield lease

    @contextmanager
    def hold(self, image_id: str = "") -> Iterator[Hold]:
        """A hold on snapshots (added with `Hold.add`) until the block ends; with `image_id`, for a container
        running that image (`image prune -a` keeps it, as Docker keeps an image a container uses)."""
        with self._leased("hold", image_id) as lease:
            yield Hold(self._meta, lease)

    def images_in_use(self) -> set[str]:
        """The images that containers of live processes run."""
        with self._meta.snapshot() as tx:
            rows = tx.leases()
        return {row.target for row in rows if row.kind == "hold" and row.target and is_alive(row.owner)}

    def dead(self) -> list[LeaseRow]:
        """Leases whose process is gone, containers first, then mounts deepest first: the undoing order."""
        with self._meta.snapshot() as tx:
            rows = tx.leases()
        alive = {owner: is_alive(owner) for owner in {row.owner for row in rows}}
        dead = [row for row in rows if not alive[row.owner]]
        return sorted(dead, key=lambda row: (row.kind != "container", -row.target.count("/"), row.id))

    def mount_targets(self) -> set[str]:
        """The targets of every mount lease, of live processes and dead ones."""
        with self._meta.snapshot() as tx:
            rows = tx.leases()
        return {row.target for row in rows if row.kind in MOUNT_KINDS}

    def reap(self) -> list[str]:
        """Undo the leases of processes that are gone: delete their containers, unmount their mounts, drop
        the rows. What was undone, one line each; a lease that cannot be undone stays (check reports it)."""
        done = []
        for row in self.dead():
            try:
                _undo(row)
            except (OSError, SlipwayError) as err:
                log.debug("cannot undo %s: %s", describe_lease(row), err)  # `system check` reports it
                continue
            with self._meta.transaction() as tx:
                tx.delete_lease(row.id)
            if row.kind != "hold":
                done.append(f"{describe_lease(row)}: {'deleted' if row.kind == 'container' else 'unmounted'}")
        return done

    @contextmanager
    def _leased(
        self, kind: LeaseKind, target: str, *, runtime: str | None = None, state_root: str | None = None
    ) -> Iterator[Lease]:
        with self._meta.transaction() as tx:
            lease_id = tx.insert_lease(self.owner, kind, target, runtime=runtime, state_root=state_root)
        try:
            yield Lease(id=lease_id, kind=kind, target=target)
        finally:
            with self._meta.transaction() as tx:
                tx.delete_lease(lease_id)


def describe_lease(row: LeaseRow) -> str:
    parsed = parse_owner(row.owner)
    by = f"process {parsed[0]}" if parsed else f"owner {row.owner!r}"
    match row.kind:
        case "container":
            return f"container {row.target} of {by}"
        case "hold":
            return f"snapshot hold of {by}"
        case _:
            return f"{row.kind} mount at {row.target} of {by}"


def _undo(row: LeaseRow) -> None:
    if row.kind == "container":
        from slipway.worker.executor import delete_container

        if row.runtime and row.state_root:
            delete_container(Path(row.runtime), Path(row.state_root), row.target)
    elif row.kind in MOUNT_KINDS:
        from slipway.worker.mounts import unmount

        unmount(Path(row.target), attempts=1)  # busy: detached at once, no one is left to wait for
