"""The Store: one root, handing out its parts, as containerd has them; opening, closing, gc and check.

    <root>/blobs/sha256/<hex>       content-addressed blobs (blobs.py, on blob_files.py; deferred: packed.py)
    <root>/snapshots/<id>/{fs,work} unpacked layer trees (snapshotter.py, on snapshots.py)
    <root>/meta.db                  SQLite: images, names, layers, snapshots, cache records, build memos, leases
                                    and registry blob locations (meta.py; images.py, cache.py, memos.py,
                                    leases.py, blob_sources.py)
    <root>/meta.reserve             space held back so meta.db commits cleanups on a full disk (space.py)
    <root>/tmp/<pid>-<start>-<rand> one work dir per open Store; removed at close, or at the next open once
                                    its process is gone
    <root>/locks/                   flock files: gc against leases, one per chain id being unpacked, one per
                                    deferred blob being packed, recovery after a killed process

The parts, each a Protocol with one implementation (the words and lifecycle are in each module's docstring):
`blobs` (ContentStore), `images` (ImageStore), `snapshots` (Snapshotter), `cache` (CacheRecords), `memos`,
`leases` and `blob_sources`. They share one meta.db and one sync-then-publish rule (_syncs.py).

Concurrency: any number of threads and processes. Each thread has its own SQLite connection; multi-row
changes are one transaction; gc() takes the gc lock exclusively, while `images.add`, the snapshotter's unpacks
and `lease()` hold it shared, so gc never collects what they are in the middle of storing. What lives longer
(a build, a `slipway run` container) holds its snapshots through `leases` instead, which gc respects
without waiting.

Crashes: every mount and container is a lease in meta.db before it exists (leases.py), so opening a store
first undoes what dead processes left (_recovery.py), then collects what they had half-made.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

from slipway.errors import DiskFull, SlipwayError, StoreError
from slipway.image.oci import Digest
from slipway.store import META_DB
from slipway.store._owners import current_owner
from slipway.store._recovery import detach_unexplained_mounts, leftover_problems, recover, remove_tree
from slipway.store._syncs import Syncs
from slipway.store.blob_files import BlobFiles
from slipway.store.blob_sources import BlobSources
from slipway.store.blobs import Blobs, ContentStore
from slipway.store.cache import Cache, CacheRecords
from slipway.store.images import Images, ImageStore
from slipway.store.leases import Leases
from slipway.store.locks import file_lock, lock_holders, try_file_lock
from slipway.store.memos import Memos
from slipway.store.meta import MetaDB
from slipway.store.packed import Packer
from slipway.store.snapshots import SnapshotDirs
from slipway.store.snapshotter import Snapshots, Snapshotter
from slipway.store.space import OPENING_LOAN, SpaceReserve, is_no_space, no_space, reporting_no_space

__all__ = ["Store"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Store:
    """One store root. Safe to share between threads; several processes may open the same root."""

    blobs: ContentStore
    images: ImageStore
    snapshots: Snapshotter
    cache: CacheRecords
    memos: Memos
    leases: Leases
    blob_sources: BlobSources

    def __init__(self, root: Path, meta: MetaDB, tmp: Path, owner: str, reserve: SpaceReserve) -> None:
        self.root = root
        self.recovered: tuple[str, ...] = ()  # what opening undid of dead processes' leftovers
        self._meta = meta
        self._tmp = tmp
        self._reserve = reserve
        self._locks = root / "locks"
        self._lease_depth = threading.local()
        self._closed = False
        self._syncs = Syncs()
        self._files = BlobFiles(root / "blobs" / "sha256", tmp)
        self._dirs = SnapshotDirs(root / "snapshots", tmp)
        self._blobs = Blobs(root, self._files, Packer(meta, self._files, self._dirs, self._locks))
        self.blobs = self._blobs
        self.images = Images(meta, self.blobs, reserve, self._syncs, self.lease)
        self.snapshots = Snapshots(
            root,
            meta,
            self._dirs,
            blobs=self.blobs,
            images=self.images,
            reserve=reserve,
            syncs=self._syncs,
            owner=owner,
            lease=self.lease,
        )
        self.cache = Cache(meta, self._dirs, reserve, self._syncs)
        self.memos = Memos(meta, self._syncs)
        # Leases are this open store's (its work dir's name): another store open in this process has its own.
        self.leases = Leases(meta, owner=tmp.name)
        self.blob_sources = BlobSources(meta)

    @classmethod
    def open(cls, root: Path) -> Store:
        """Make the layout, open meta.db, undo what dead processes left (their leases, their work dirs under
        tmp/, then what they half-made). Use as `with Store.open(root) as store:`."""
        root = Path(root).absolute()
        reserve = SpaceReserve(root)
        try:
            for directory in (root / "blobs" / "sha256", root / "snapshots", root / "tmp", root / "locks"):
                directory.mkdir(parents=True, exist_ok=True)
            owner = current_owner()
        except OSError as err:
            raise StoreError(
                f"cannot open the store at {root}: {err}; check --root and its permissions"
            ) from err
        tmp = _borrowing_if_full(reserve, lambda: _make_temp_dir(root, owner))
        try:
            meta = _borrowing_if_full(reserve, lambda: MetaDB.open(root / META_DB))
            reserve.top_up()
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        store = cls(root, meta, tmp, owner, reserve)
        try:
            with store._freeing_space():  # undoing what dead processes left frees space: on a full disk too
                store._recover()
        except BaseException:
            store.close()
            raise
        return store

    def publish(self) -> None:
        """Wait for this process's background syncs of new snapshots, then write what waits for them (cache
        records, layers, images, memos: _syncs.py). A build does it before its hold on the snapshots ends."""
        self._syncs.publish()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._syncs.publish()
        finally:
            self._closed = True
            self._meta.close()
            self._reserve.top_up()  # what a cleanup or the opening spent, now that -wal and -shm are gone
            remove_tree(self._tmp)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @contextmanager
    def temp_dir(self, prefix: str = "tmp") -> Iterator[Path]:
        """A fresh directory under <root>/tmp, removed on exit."""
        with reporting_no_space(self.root, "making a work directory"):
            path = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=self._tmp))
        try:
            yield path
        finally:
            remove_tree(path)

    @contextmanager
    def lease(self) -> Iterator[None]:
        """Keep gc() (in any thread or process) from collecting what is put inside the block: hold it from the
        first blob or snapshot of a build until the image or cache record that needs it. gc() waits for leases
        to end."""
        depth = getattr(self._lease_depth, "depth", 0)
        ingests_before = self._blobs.ingests
        try:
            with file_lock(self._locks / "gc.lock", shared=True):
                self._lease_depth.depth = depth + 1
                try:
                    yield
                finally:
                    self._lease_depth.depth = depth
        except BaseException:
            if depth == 0 and self._blobs.ingests != ingests_before:
                self._collect_after_failure()
            raise

    def _collect_after_failure(self) -> None:
        """The blobs a failed pull, load or import put in the store, which no image uses, go at once (with
        any other garbage) if no other lease is held; else the next gc takes them. Never hides the failure
        that brought us here."""
        try:
            self.gc_if_idle()
        except (SlipwayError, OSError) as err:
            log.debug("collecting after a failure: %s", err)

    # maintenance

    def gc(self, *, on_wait: Callable[[list[int]], None] | None = None) -> int:
        """Remove blobs, snapshots and layer records no image, cache record or live lease needs, and what dead
        processes left (their leases, work dirs, and mounts no lease explains); bytes freed.

        Waits for `lease()` blocks (pulls, loads, exports storing an image) to end, first calling
        `on_wait(pids holding them)`. Blobs put outside a lease and not yet part of an image are collected:
        hold `lease()` from put to images.add when gc may run at the same time."""
        self._refuse_inside_lease()
        lock = self._locks / "gc.lock"
        wait = (lambda: on_wait(lock_holders(lock))) if on_wait is not None else None
        with file_lock(lock, on_wait=wait):
            return self._collect_all()

    def gc_if_idle(self) -> int | None:
        """gc() if no `lease()` block is held now (the bytes freed), else None at once: nothing collected."""
        self._refuse_inside_lease()
        with try_file_lock(self._locks / "gc.lock") as is_locked:
            return self._collect_all() if is_locked else None

    def _refuse_inside_lease(self) -> None:
        if getattr(self._lease_depth, "depth", 0):
            raise StoreError("gc() inside store.lease() would wait for itself; call it after the lease ends")

    def _collect_all(self) -> int:
        """What gc does once it holds the gc lock exclusively."""
        self._syncs.publish()  # this process's records still waiting for a sync keep what they point at
        self._recover(collect=False)
        detach_unexplained_mounts(self.root, self.leases)
        return self._collect()

    def _collect(self) -> int:
        """gc's collection proper; the caller holds the gc lock exclusively. It frees space, so on a full disk
        it may spend the meta.db reserve."""
        with self._freeing_space():
            with self._meta.transaction() as tx:
                # Listed while holding the write lock: a snapshot's row is written before its directory,
                # so a directory listed here without a row is a crash's leftover, not one being made.
                from slipway.store.gc import plan_gc  # prune and gc only: a build never collects

                plan = plan_gc(tx, set(self._files.digests()), self._dirs.ids())
                for snapshot_id in plan.snapshots:
                    tx.delete_snapshot(snapshot_id)
                for digest in plan.layer_records:
                    tx.delete_layer(digest)
            freed = 0
            for snapshot_id in plan.snapshots + plan.orphaned_dirs:
                freed += self._dirs.remove(snapshot_id)
            for digest in plan.blobs:
                freed += self._files.remove(digest)
        log.debug("gc: %d snapshots, %d blobs, %d bytes", len(plan.snapshots), len(plan.blobs), freed)
        return freed

    def _recover(self, *, collect: bool = True) -> None:
        """Undo dead processes' leases and work dirs; then, if there were any (or an earlier recovery could
        not), collect what they half-made (blobs of an unfinished pull, a half-removed snapshot), unless gc
        is busy: then a later open does it."""
        self.recovered += tuple(recover(self.root, self.leases))
        pending = self._locks / "collect-after-crash"
        if not collect or not (self.recovered or pending.exists()):
            return
        pending.touch()
        with try_file_lock(self._locks / "gc.lock") as is_locked:
            if is_locked:
                self._collect()
                pending.unlink(missing_ok=True)

    def check(self) -> list[str]:
        """Re-hash every blob and compare the records with the disk; the problems found, empty when healthy."""
        with self._meta.snapshot() as tx:
            problems = [f"damaged metadata in {self._meta.path}: {line}" for line in tx.integrity_problems()]
            images = tx.images()
            layers = tx.all_layers()  # a diff_id may have several blobs (kept uncompressed, pushed gzipped)
            snapshots = tx.snapshots()
            deferred = {Digest(digest) for digest in tx.deferred_digests()}
        on_disk = set(self._files.digests())
        corrupt = {digest for digest in on_disk if not self._files.verify(digest)}
        from slipway.store.gc import blob_snapshot_problems, find_problems

        problems += find_problems(
            images, {info.descriptor.digest for info in layers}, on_disk | deferred, corrupt
        )
        problems += blob_snapshot_problems(snapshots, layers, on_disk | deferred)
        problems += [f"stray file {name} in {self._files.directory}" for name in self._files.strays()]
        problems += self._dirs.problems(snapshots)
        return problems + leftover_problems(self.root, self.leases)

    def _freeing_space(self) -> AbstractContextManager[None]:
        """Around a transaction that removes records, and the deletions after it: it commits on a full disk."""
        return self._reserve.for_cleanup()


def _make_temp_dir(root: Path, owner: str) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f"{owner}-", dir=root / "tmp"))
    except OSError as err:
        if is_no_space(err):
            raise no_space(root, "opening the store", err) from err
        raise StoreError(f"cannot open the store at {root}: {err}; check --root and its permissions") from err


def _borrowing_if_full(reserve: SpaceReserve, action: Callable[[], T]) -> T:
    """`action()`; on a full disk, again with space lent by the reserve: the commands that free space (rmi,
    prune) must open the store first."""
    try:
        return action()
    except DiskFull:
        if not reserve.lend(OPENING_LOAN):
            raise
    return action()
