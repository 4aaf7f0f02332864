"""The snapshotter: the life of a snapshot, from an empty tree on its parent to a committed, shared layer.

Words (containerd's): a snapshot is a tree on disk, its parent's tree plus one layer of changes. A *key*
names an *active* snapshot, one its process is still writing (a build step); keys belong to one open store.
A *committed* snapshot is named by its id, and once its layer is known by its chain id, under which images
and cache imports share it.

Lifecycle:
    prepare(key, parent, mode) → a mount plan for the new snapshot on a committed parent (or on nothing); the
        caller mounts it (recording the mount in the lease ledger), writes, and unmounts it
    commit(key)               → committed: later snapshots may build on it, it never changes again; records
                                that would point at it are published once its tree is synced (_syncs.py)
    remove(key)               → an active snapshot gone; a no-op for a key committed or removed already, so
                                cleanup may always call it
A key is active once at a time (a second prepare raises StoreError). Committed snapshots go only at gc, once
no image, cache record or live hold needs them; unpacking an image's layers makes committed snapshots shared
by chain id, one unpack per chain however many threads and processes want it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, suppress
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

import msgspec

from slipway.errors import DigestMismatch, StoreError
from slipway.image.layers import LayerInfo, measure_layer, unpack_layer
from slipway.image.oci import ChainID, Descriptor, DiffID, Digest, chain_ids
from slipway.store._syncs import Syncs, sync_now
from slipway.store.blobs import ContentStore
from slipway.store.images import ImageStore
from slipway.store.leases import Hold
from slipway.store.locks import file_lock
from slipway.store.meta import MetaDB, SnapshotRow, Transaction
from slipway.store.records import ImageRecord, SnapshotRecord
from slipway.store.snapshots import SnapshotDirs
from slipway.store.space import SpaceReserve, reporting_no_space
from slipway.worker.mount_plan import Direct, MountPlan, Overlay

__all__ = ["NewTree", "PrepareMode", "Snapshots", "Snapshotter"]


class NewTree(msgspec.Struct, frozen=True):
    """A prepare mode: the step only creates `top` (one top-level name) and what is below it, and reads nothing
    of its parents (a COPY without --chown). When no parent has `top`, not even as a whiteout, overlay would
    have nothing to merge, copy up or hide: the plan is then a direct write into the new snapshot's tree,
    without overlay's cost on every file."""

    top: str


# "merged": the step sees its parents' tree and may change anything in it (a RUN, most COPYs).
PrepareMode = Literal["merged"] | NewTree


class Snapshotter(Protocol):
    """Snapshots (see the module docstring for the words and the lifecycle)."""

    def prepare(self, key: str, parent: int | None, mode: PrepareMode = "merged") -> MountPlan: ...

    def commit(self, key: str, *, hold: Hold | None = None) -> SnapshotRecord: ...  # `hold` keeps it from gc

    def remove(self, key: str) -> None: ...  # idempotent

    def view(self, snapshot_id: int | None) -> Overlay: ...  # read-only plan of a committed snapshot's tree

    def unpack_image(
        self, image: ImageRecord
    ) -> SnapshotRecord | None: ...  # the top snapshot; None: no layers

    def unpack_layers(  # the same for layers (bottom first); `fetch` puts a missing layer's blob in the store
        self, layers: Sequence[LayerInfo], *, fetch: Callable[[LayerInfo], None] | None = None
    ) -> SnapshotRecord | None: ...

    def record_layers(  # as unpack_layers, but the new snapshots stay their blobs until first used
        self, layers: Sequence[LayerInfo], *, fetch: Callable[[LayerInfo], None] | None = None
    ) -> SnapshotRecord | None: ...

    def unpacked(
        self, snapshot_id: int
    ) -> SnapshotRecord: ...  # its chain's trees unpacked now if they were not

    def get(self, snapshot_id: int) -> SnapshotRecord: ...  # StoreError if there is no such snapshot

    def chain(self, snapshot_id: int) -> list[SnapshotRecord]: ...  # bottom first, ending with `snapshot_id`

    def set_layer(  # once its layer is measured or packed: diff_id, chain id, and the layer record
        self, snapshot_id: int, info: LayerInfo, *, deferred: bool = False
    ) -> SnapshotRecord: ...

    def set_created(self, snapshot_id: int, created: float) -> None: ...  # when its step ran, as a cache says

    def usage(self, snapshot_id: int) -> int: ...  # bytes its own tree holds on disk


class _Active(msgspec.Struct, frozen=True):
    snapshot_id: int
    plan: MountPlan


class Snapshots:
    """The snapshots of one store root; the active keys are this open store's."""

    def __init__(
        self,
        root: Path,
        meta: MetaDB,
        dirs: SnapshotDirs,
        *,
        blobs: ContentStore,
        images: ImageStore,
        reserve: SpaceReserve,
        syncs: Syncs,
        owner: str,
        lease: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._root = root
        self._meta = meta
        self._dirs = dirs
        self._blobs = blobs
        self._images = images  # its layer records: which blob holds a diff_id
        self._reserve = reserve
        self._syncs = syncs
        self._owner = owner  # the process, written on its active snapshots (gc spares them while it lives)
        self._lease = lease  # the store's gc lease, held while unpacking
        self._locks = root / "locks"
        self._active: dict[str, _Active | None] = {}  # None: being prepared
        self._lock = threading.Lock()

    # the build's lifecycle

    def prepare(self, key: str, parent: int | None, mode: PrepareMode = "merged") -> MountPlan:
        with self._lock:
            if key in self._active:
                raise StoreError(f"snapshot key {key!r} is active already: commit or remove it first")
            self._active[key] = None
        try:
            if parent is not None:
                self._unpack_chain(parent)
            snapshot, lowers = self._create(parent)
        except BaseException:
            with self._lock:
                del self._active[key]
            raise
        plan: MountPlan = Overlay(lowers, upper=snapshot.path, work=snapshot.work)
        if isinstance(mode, NewTree) and not _has_entry(lowers, mode.top):
            plan = Direct(snapshot.path)
        with self._lock:
            self._active[key] = _Active(snapshot.id, plan)
        return plan

    def commit(self, key: str, *, hold: Hold | None = None) -> SnapshotRecord:
        """Commit the snapshot the caller has written and unmounted; held by `hold` in the same transaction."""
        with self._lock:
            active = self._active.get(key)
        if active is None:
            raise StoreError(f"no active snapshot {key!r} to commit: prepare it first")
        # Neither a direct write nor a (volatile) overlay's unmount synced the tree. Held (a build's step), it is
        # synced in the background and whatever would point at it is published once that ends; nothing but a
        # hold would keep it from gc until then, so an unheld one is synced before it is committed.
        tree = self._dirs.fs(active.snapshot_id)
        if hold is None:
            sync_now(tree)
        with self._meta.transaction() as tx:
            row = _existing(tx, active.snapshot_id)
            tx.commit_snapshot(row.id)
            if hold is not None:
                hold.add(row.id)  # joins this transaction
            row = _existing(tx, row.id)
        if hold is not None:
            self._syncs.start(row.id, tree)
        with self._lock:
            del self._active[key]
        return self._dirs.record(row)

    def remove(self, key: str) -> None:
        with self._lock:
            active = self._active.get(key)
            if active is None:
                return
            del self._active[key]
        self._delete(active.snapshot_id)

    def view(self, snapshot_id: int | None) -> Overlay:
        if snapshot_id is None:
            return Overlay(())
        chain = self.chain(snapshot_id)
        if not all(record.unpacked for record in chain):
            self._unpack_chain(snapshot_id)
        return Overlay(tuple(record.path for record in chain))

    # committed snapshots

    def get(self, snapshot_id: int) -> SnapshotRecord:
        with self._meta.snapshot() as tx:
            row = _existing(tx, snapshot_id)
        return self._dirs.record(row)

    def chain(self, snapshot_id: int) -> list[SnapshotRecord]:
        with self._meta.snapshot() as tx:
            return [self._dirs.record(row) for row in _chain(tx, snapshot_id)]

    def set_layer(self, snapshot_id: int, info: LayerInfo, *, deferred: bool = False) -> SnapshotRecord:
        """Record the snapshot's diff_id, its chain id (from the parent's) and the layer record.

        `deferred`: `info` is the uncompressed layer measured by `measure_tree`, not written; its blob is
        packed from this (committed) snapshot when first read (packed.py)."""
        self._syncs.publish()  # a chain id makes the snapshot findable by other images: durable first
        with self._meta.transaction() as tx:
            row = _existing(tx, snapshot_id)
            chain_id = ChainID(info.diff_id)
            if row.parent is not None:
                parent = _existing(tx, row.parent)
                if parent.chain_id is None:
                    raise StoreError(
                        f"snapshot {snapshot_id}: its parent {row.parent} has no layer yet; set the parent's "
                        "layer first (chain gives the order)"
                    )
                chain_id = chain_ids((DiffID(parent.chain_id), info.diff_id))[-1]
            tx.put_layer(info)
            tx.set_snapshot_layer(snapshot_id, info.diff_id, chain_id)
            if deferred:
                if not row.committed or info.descriptor.digest != Digest(info.diff_id):
                    raise StoreError(
                        f"snapshot {snapshot_id}: only an uncompressed layer of a committed snapshot can be deferred"
                    )
                tx.put_deferred_layer(info.descriptor.digest, snapshot_id)
            row = _existing(tx, snapshot_id)
        return self._dirs.record(row)

    def set_created(self, snapshot_id: int, created: float) -> None:
        """When the step that made the snapshot ran, as the build that exported its cache record says: an image
        rebuilt from an imported cache keeps its created time, and so its ID."""
        with self._meta.transaction() as tx:
            _existing(tx, snapshot_id)
            tx.set_snapshot_created(snapshot_id, created)

    def usage(self, snapshot_id: int) -> int:
        total = 0
        for directory, _dirs, files in os.walk(self._dirs.fs(snapshot_id)):
            for name in files:
                with suppress(OSError):
                    total += os.lstat(os.path.join(directory, name)).st_size
        return total

    # unpacking

    def unpack_image(self, image: ImageRecord) -> SnapshotRecord | None:
        """Snapshots are keyed by chain id and shared between images; concurrent callers (threads or processes)
        wanting the same chain wait for one unpack and get the same snapshot."""
        diff_ids = image.config.rootfs.diff_ids
        parent: SnapshotRecord | None = None
        with self._lease():
            for descriptor, diff_id, chain_id in zip(
                image.manifest.layers, diff_ids, chain_ids(diff_ids), strict=True
            ):
                parent = self._shared(chain_id, partial(self._unpack, parent, descriptor, diff_id, chain_id))
        return parent

    def unpack_layers(
        self, layers: Sequence[LayerInfo], *, fetch: Callable[[LayerInfo], None] | None = None
    ) -> SnapshotRecord | None:
        """As unpack_image. A layer whose chain has no snapshot yet is unpacked from its blob; when the store has
        no blob of that diff_id, `fetch(layer)` is called first to put `layer.descriptor`'s blob in the store (a
        build cache import fetches only what it lacks). Fetched layers are recorded, so exporters reuse them."""
        parent: SnapshotRecord | None = None
        with self._lease():
            for layer, chain_id in zip(layers, chain_ids([layer.diff_id for layer in layers]), strict=True):
                parent = self._shared(chain_id, partial(self._unpack_fetched, parent, layer, chain_id, fetch))
        return parent

    def record_layers(
        self, layers: Sequence[LayerInfo], *, fetch: Callable[[LayerInfo], None] | None = None
    ) -> SnapshotRecord | None:
        """As unpack_layers, but a chain without a snapshot gets one that is only its layer's blob (fetched and
        its diff_id checked): committed, shared by chain id, and unpacked by `unpacked` when a tree is needed
        (a build cache import whose steps only an image export reads never writes their files)."""
        parent: SnapshotRecord | None = None
        with self._lease():
            for layer, chain_id in zip(layers, chain_ids([layer.diff_id for layer in layers]), strict=True):
                parent = self._shared(chain_id, partial(self._record_blob, parent, layer, chain_id, fetch))
        return parent

    def unpacked(self, snapshot_id: int) -> SnapshotRecord:
        """The snapshot, every tree of its chain on disk: those still only blobs unpacked now, each once (the
        chain lock; a crash mid-unpack leaves the row a blob and its partial tree is redone)."""
        self._unpack_chain(snapshot_id)
        return self.get(snapshot_id)

    def _unpack_chain(self, snapshot_id: int) -> None:
        with self._meta.snapshot() as tx:
            rows = _chain(tx, snapshot_id, missing_ok=True)
        for row in rows:
            if not row.unpacked:
                assert row.chain_id is not None and row.diff_id is not None  # record_layers sets both
                with self._lease(), file_lock(self._chain_lock(row.chain_id)):
                    self._unpack_recorded(row.id, row.diff_id)

    def _record_blob(
        self,
        parent: SnapshotRecord | None,
        layer: LayerInfo,
        chain_id: ChainID,
        fetch: Callable[[LayerInfo], None] | None,
    ) -> SnapshotRecord:
        known = self._images.layer(layer.diff_id)
        if known is None:
            if not self._blobs.has(layer.descriptor.digest):
                if fetch is None:
                    raise StoreError(f"layer {layer.descriptor.digest} is not in the store")
                fetch(layer)
            with self._blobs.open(layer.descriptor.digest) as blob:
                diff_id, _, _ = measure_layer(blob, layer.descriptor.media_type)
            if diff_id != layer.diff_id:
                raise DigestMismatch(
                    f"layer {layer.descriptor.digest} unpacks to {diff_id}, but its record says {layer.diff_id}"
                )
        with self._meta.transaction() as tx:
            if known is None:
                tx.put_layer(layer)  # checked above: this blob holds this diff_id
            snapshot_id = tx.insert_snapshot(parent.id if parent else None, self._owner)
            tx.set_snapshot_layer(snapshot_id, layer.diff_id, chain_id)
            tx.set_snapshot_unpacked(snapshot_id, False)
            tx.commit_snapshot(snapshot_id)
            row = _existing(tx, snapshot_id)
        return self._dirs.record(row)

    def _unpack_recorded(self, snapshot_id: int, diff_id: DiffID) -> None:
        """Unpack a recorded blob snapshot's layer into its own tree, synced before the row says it is there."""
        with self._meta.snapshot() as tx:
            row = tx.snapshot(snapshot_id)
        if row is None or row.unpacked:
            return  # another thread or process did it meanwhile
        layer = self._images.layer(diff_id)
        if layer is None:
            raise StoreError(f"snapshot {snapshot_id}: no blob of layer {diff_id} in the store; build again")
        with reporting_no_space(self._root, f"unpacking layer {diff_id}"):
            self._dirs.create(snapshot_id)  # removes what a crashed unpack left
            descriptor = layer.descriptor
            self._unpack_blob(descriptor.digest, descriptor.media_type, diff_id, self._dirs.fs(snapshot_id))
            sync_now(self._dirs.fs(snapshot_id))
            with self._meta.transaction() as tx:
                tx.set_snapshot_unpacked(snapshot_id, True)

    def _shared(self, chain_id: ChainID, unpack: Callable[[], SnapshotRecord]) -> SnapshotRecord:
        """The committed snapshot of `chain_id`, unpacked by `unpack` if none is yet: one per chain."""
        found = self._committed_for_chain(chain_id)
        if found is None:
            with file_lock(self._chain_lock(chain_id)):
                found = self._committed_for_chain(chain_id) or unpack()
        return found

    def _chain_lock(self, chain_id: ChainID) -> Path:
        """The lock one chain's unpack (or its record as a blob) holds: one per chain across processes."""
        return self._locks / f"chain-{chain_id.removeprefix('sha256:')}.lock"

    def _committed_for_chain(self, chain_id: ChainID) -> SnapshotRecord | None:
        with self._meta.snapshot() as tx:
            row = tx.committed_snapshot_for_chain(chain_id)
        if row is None or (row.unpacked and not self._dirs.fs(row.id).is_dir()):
            return None
        return self._dirs.record(row)

    def _unpack_fetched(
        self,
        parent: SnapshotRecord | None,
        layer: LayerInfo,
        chain_id: ChainID,
        fetch: Callable[[LayerInfo], None] | None,
    ) -> SnapshotRecord:
        has_blob = self._blobs.has(layer.descriptor.digest)
        if not has_blob and fetch is not None and self._images.layer(layer.diff_id) is None:
            fetch(layer)
            has_blob = True
        snapshot = self._unpack(parent, layer.descriptor, layer.diff_id, chain_id)
        if has_blob:
            # Recorded only now: the unpack has checked that this blob holds this diff_id.
            self._images.record_layer(layer)
        return snapshot

    def _unpack(
        self, parent: SnapshotRecord | None, descriptor: Descriptor, diff_id: DiffID, chain_id: ChainID
    ) -> SnapshotRecord:
        with reporting_no_space(self._root, f"unpacking layer {diff_id}"):
            snapshot, _ = self._create(parent.id if parent else None)
            try:
                blob_digest = descriptor.digest
                if not self._blobs.has(blob_digest):
                    known = self._images.layer(diff_id)
                    blob_digest = known.descriptor.digest if known else blob_digest
                self._unpack_blob(blob_digest, descriptor.media_type, diff_id, snapshot.path)
                with self._meta.transaction() as tx:
                    tx.set_snapshot_layer(snapshot.id, diff_id, chain_id)
                    tx.commit_snapshot(snapshot.id)
                    row = _existing(tx, snapshot.id)
            except BaseException:
                with suppress(Exception):
                    self._delete(snapshot.id)
                raise
        return self._dirs.record(row)

    def _unpack_blob(self, digest: Digest, media_type: str, diff_id: DiffID, tree: Path) -> None:
        """Unpack a layer blob into `tree` (the safe unpacker); DigestMismatch unless it is `diff_id`."""
        with self._blobs.open(digest) as blob:
            unpacked = unpack_layer(blob, media_type, tree, whiteouts="overlay")
        if unpacked != diff_id:
            raise DigestMismatch(f"layer {digest} unpacked to {unpacked}, but the image says {diff_id}")

    # making and deleting

    def _create(self, parent: int | None) -> tuple[SnapshotRecord, tuple[Path, ...]]:
        """An active snapshot of this process (empty fs/ and work/ dirs) and its parents' trees, bottom first."""
        with self._meta.transaction() as tx:
            below = _chain(tx, parent, missing_ok=True) if parent is not None else []
            if parent is not None and not (below and below[-1].committed):
                raise StoreError(f"cannot create a snapshot on {parent}: it is not a committed snapshot")
            snapshot_id = tx.insert_snapshot(parent, self._owner)
            row = _existing(tx, snapshot_id)
        try:
            with reporting_no_space(self._root, f"making snapshot {snapshot_id}"):
                self._dirs.create(snapshot_id)
        except BaseException:
            with self._reserve.for_cleanup(), self._meta.transaction() as tx:
                tx.delete_snapshot(snapshot_id)
            raise
        return self._dirs.record(row), tuple(self._dirs.fs(below_row.id) for below_row in below)

    def _delete(self, snapshot_id: int) -> None:
        with self._reserve.for_cleanup():
            with self._meta.transaction() as tx:
                if tx.snapshot(snapshot_id) is None:
                    return
                children = tx.children(snapshot_id)
                if children:
                    raise StoreError(
                        f"cannot remove snapshot {snapshot_id}: snapshots {', '.join(map(str, children))} "
                        "are built on it"
                    )
                tx.delete_snapshot(snapshot_id)
            self._dirs.remove(snapshot_id)


def _has_entry(lowers: tuple[Path, ...], name: str) -> bool:
    if not name or name in (".", "..") or "/" in name:
        raise ValueError(f"NewTree takes one top-level name, not {name!r}")
    return any(os.path.lexists(os.path.join(lower, name)) for lower in lowers)


def _existing(tx: Transaction, snapshot_id: int) -> SnapshotRow:
    row = tx.snapshot(snapshot_id)
    if row is None:
        raise StoreError(f"no snapshot {snapshot_id} in the store")
    return row


def _chain(tx: Transaction, snapshot_id: int, *, missing_ok: bool = False) -> list[SnapshotRow]:
    """Bottom first, ending with `snapshot_id` (empty with `missing_ok` when there is no such snapshot)."""
    chain: list[SnapshotRow] = []
    current: int | None = snapshot_id
    while current is not None:
        row = tx.snapshot(current)
        if row is None:
            if missing_ok and not chain:
                return []
            raise StoreError(f"no snapshot {current} in the store")
        chain.append(row)
        current = row.parent
    chain.reverse()
    return chain
