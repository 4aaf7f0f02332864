"""The Store facade: blobs, image records, layers, snapshots and build cache records under one root.

    <root>/blobs/sha256/<hex>       content-addressed blobs (blobs.py)
    <root>/snapshots/<id>/{fs,work} unpacked layer trees (snapshots.py)
    <root>/meta.db                  SQLite: images, names, layers, snapshots, cache records, build memos and
                                    registry blob locations (meta.py, memos.py, blob_sources.py)
    <root>/meta.reserve             space held back so meta.db commits cleanups on a full disk (space.py)
    <root>/tmp/<pid>-<start>-<rand> one work dir per open Store; removed at close, or at the next open once
                                    its process is gone
    <root>/locks/                   flock files: gc against leases, one per chain id being unpacked, one per
                                    deferred blob being packed, recovery after a killed process

A built layer is deferred: the build measures it (diff_id, size) and records it as an uncompressed layer
whose blob is packed from its snapshot the first time something reads it (save, push, check). So a build
writes no layer blob at all, as Docker's own layer store keeps no compressed copy.

Concurrency: any number of threads and processes. Each thread has its own SQLite connection; multi-row
changes are one transaction; gc() takes the gc lock exclusively, while add_image, snapshot_for_image and
`lease()` hold it shared, so gc never collects what they are in the middle of storing. What lives longer
(a build, a `slipway run` container) holds its snapshots through `leases` instead, which gc respects
without waiting.

Crashes: every mount and container is a lease in meta.db before it exists (leases.py), so opening a store
first undoes what dead processes left (_recovery.py), then collects what they had half-made.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

import msgspec

from slipway.errors import DigestMismatch, DiskFull, ImageNotFound, SlipwayError, StoreError
from slipway.image.layers import LayerInfo, measure_layer, pack_layer, unpack_layer
from slipway.image.oci import (
    ChainID,
    Descriptor,
    DiffID,
    Digest,
    ImageConfig,
    Manifest,
    chain_ids,
    decode_json,
    encode_json,
)
from slipway.store import META_DB, memos
from slipway.store._owners import current_owner, is_alive
from slipway.store._recovery import detach_unexplained_mounts, leftover_problems, recover, remove_tree
from slipway.store.blob_sources import BlobSources
from slipway.store.blobs import BlobStore, BlobWriter, CorruptBlob
from slipway.store.gc import find_problems, plan_gc
from slipway.store.leases import Leases
from slipway.store.locks import file_lock, lock_holders, try_file_lock
from slipway.store.meta import ImageRow, MetaDB, SnapshotRow, Transaction
from slipway.store.names import find_image, tag_name
from slipway.store.records import CacheEntry, ImageRecord, SnapshotRecord
from slipway.store.snapshots import SnapshotDirs
from slipway.store.space import OPENING_LOAN, SpaceReserve, is_no_space, no_space, reporting_no_space

__all__ = ["Store"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Store:
    """One store root. Safe to share between threads; several processes may open the same root."""

    def __init__(self, root: Path, meta: MetaDB, tmp: Path, owner: str, reserve: SpaceReserve) -> None:
        self.root = root
        self._meta = meta
        self._tmp = tmp
        self._owner = owner
        self._reserve = reserve
        # Leases are this open store's (its work dir's name): another store open in this process has its own.
        self.leases = Leases(meta, owner=tmp.name)
        self.recovered: tuple[str, ...] = ()  # what opening undid of dead processes' leftovers
        self._blobs = BlobStore(root / "blobs" / "sha256", tmp)
        self._dirs = SnapshotDirs(root / "snapshots", tmp)
        self._locks = root / "locks"
        self._leases = threading.local()
        self._closed = False
        # Snapshots committed while their data is still being synced (see commit_snapshot), and the cache
        # records that wait for those syncs before they are written.
        self._syncing: dict[int, Future[None]] = {}
        self._held_records: list[tuple[str, int]] = []
        # Blobs put so far, by any thread (a pull fetches in several): a failed lease that put some
        # collects them (see lease). A lost increment between threads only skips that cleanup.
        self._blobs_put = 0
        self._syncing_lock = threading.Lock()
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

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._publish_synced()
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
        first put_blob/create_snapshot of a build until add_image/cache_record. gc() waits for leases to end."""
        depth = getattr(self._leases, "depth", 0)
        blobs_before = self._blobs_put
        try:
            with file_lock(self._locks / "gc.lock", shared=True):
                self._leases.depth = depth + 1
                try:
                    yield
                finally:
                    self._leases.depth = depth
        except BaseException:
            if depth == 0 and self._blobs_put != blobs_before:
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

    # blobs

    def has_blob(self, digest: Digest) -> bool:
        """In the store, or a deferred layer whose snapshot can pack it."""
        return self._blobs.has(digest) or self.deferred_snapshot(digest) is not None

    def blob_path(self, digest: Digest) -> Path:
        """BlobNotFound if absent; a deferred layer is packed first."""
        self._materialize(digest)
        return self._blobs.path(digest)

    def open_blob(self, digest: Digest) -> BinaryIO:
        """BlobNotFound if absent; a deferred layer is packed first."""
        self._materialize(digest)
        return self._blobs.open(digest)

    def read_blob(self, digest: Digest) -> bytes:
        """The whole blob, checked against its digest (for small ones: configs, manifests)."""
        self._materialize(digest)
        with self._removing_corrupt():
            return self._blobs.read(digest)

    @contextmanager
    def blob_stream(self, digest: Digest, size: int, *, seekable: bool = False) -> Iterator[BinaryIO]:
        """The blob's `size` bytes, for whoever copies a blob out of the store (archives, registries, cache
        exports): checked against `digest` as they are read, so a blob damaged on disk raises DigestMismatch
        (naming it) by the end of its copy and is never passed on whole. A deferred layer is packed from its
        snapshot as it is read (nothing written to disk; StoreError at the end if the snapshot no longer packs
        to it) unless `seekable` (an upload may retry): then its blob is packed into the store first."""
        if seekable:
            self._materialize(digest)
        source = None if self._blobs.has(digest) else self.deferred_snapshot(digest)
        if source is None:
            with self._removing_corrupt(), self._blobs.verified(digest, size) as blob:
                yield cast(BinaryIO, blob)
            return
        with _PackedStream(source, digest, size) as stream:
            yield cast(BinaryIO, stream)

    def deferred_snapshot(self, digest: Digest) -> SnapshotRecord | None:
        """The committed snapshot a deferred layer blob is packed from, or None if `digest` is not deferred."""
        with self._meta.snapshot() as tx:
            rows = tx.deferred_snapshots(digest)
        for row in rows:
            if self._dirs.fs(row.id).is_dir():
                return self._snapshot_record(row)
        return None

    def put_blob(self, data: bytes, expected: Digest | None = None) -> Digest:
        """DigestMismatch if `expected` is given and differs."""
        self._blobs_put += 1
        with reporting_no_space(self.root, "writing a blob"):
            return self._blobs.put(data, expected)

    @contextmanager
    def ingest(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> Iterator[BlobWriter]:
        """`with store.ingest() as writer: writer.write(chunk)`; afterwards writer.digest/size are set and the blob
        is in place. On any exception, or a digest/size mismatch (DigestMismatch), nothing stays."""
        self._blobs_put += 1
        with (
            reporting_no_space(self.root, "writing a blob"),
            self._blobs.ingest(expected, expected_size) as writer,
        ):
            yield writer

    # layers

    def record_layer(self, info: LayerInfo) -> None:
        with self._meta.transaction() as tx:
            tx.put_layer(info)

    def layer_by_diff_id(self, diff_id: DiffID) -> LayerInfo | None:
        """A recorded layer blob with this diff_id that is in the store (the first recorded, if several)."""
        found = self.layers_by_diff_id(diff_id)
        return found[0] if found else None

    def layers_by_diff_id(self, diff_id: DiffID) -> list[LayerInfo]:
        """Every recorded layer blob with this diff_id that is in the store (deferred ones too), oldest first."""
        with self._meta.snapshot() as tx:
            candidates = tx.layers_by_diff_id(diff_id)
        return [info for info in candidates if self.has_blob(info.descriptor.digest)]

    # images

    def add_image(
        self,
        manifest: Manifest,
        config: ImageConfig,
        names: Sequence[str] = (),
        *,
        manifest_digest: Digest | None = None,
    ) -> ImageRecord:
        """Store the config and manifest blobs, record the layers' diff_ids and tag `names`, in one transaction.

        Every layer blob must be in the store already (StoreError otherwise). A name that pointed at another
        image moves; the old image stays, untagged. To keep digests of images from outside byte-exact, put the
        original config (and manifest) bytes with `put_blob` first: a config blob already stored under
        `manifest.config.digest` is used as is, and `manifest_digest` names the stored manifest blob.
        """
        self._publish_synced()
        tags = [tag_name(name) for name in names]
        diff_ids = config.rootfs.diff_ids
        if len(manifest.layers) != len(diff_ids):
            raise StoreError(
                f"image {manifest.config.digest}: the manifest lists {len(manifest.layers)} layers but the config "
                f"has {len(diff_ids)} diff_ids; the image is inconsistent"
            )
        missing = [layer.digest for layer in manifest.layers if not self.has_blob(layer.digest)]
        if missing:
            raise StoreError(
                f"image {manifest.config.digest}: layer blobs {', '.join(missing)} are not in the store; "
                "put every layer blob before add_image"
            )
        with self.lease():
            config_bytes = self._config_blob(manifest.config, config)
            manifest_bytes, digest = self._manifest_blob(manifest, manifest_digest)
            layers = [
                self._layer_info(layer, diff_id)
                for layer, diff_id in zip(manifest.layers, diff_ids, strict=True)
            ]
            image_id = manifest.config.digest
            with self._meta.transaction() as tx:
                previous = tx.image(image_id)
                for info in layers:
                    tx.put_layer(info)
                tx.put_image(
                    ImageRow(
                        id=image_id,
                        manifest_digest=digest,
                        manifest=manifest_bytes,
                        config=config_bytes,
                        created=config.created or "",
                        size=sum(info.shown_size for info in layers),
                        names=(),
                    )
                )
                for tag in tags:
                    tx.set_name(tag, image_id)
                row = tx.image(image_id)
                old_manifest = previous.manifest_digest if previous is not None else digest
                if old_manifest != digest and not tx.images_by_manifest(old_manifest):
                    # The same image under a new manifest (its layers compressed for a push): the old
                    # manifest blob names nothing any more.
                    self._blobs.remove(old_manifest)
        assert row is not None
        return _image_record(row)

    def resolve_image(self, ref: str) -> ImageRecord:
        """A name ("golang:1.24"), a full or unique-prefix image ID ("sha256:ab12...", "ab12"), or
        "name@sha256:<manifest digest>"; ImageNotFound naming `ref` otherwise."""
        with self._meta.snapshot() as tx:
            row = find_image(tx, ref.strip())
        if row is None:
            raise ImageNotFound(f"no image {ref!r} in the store; `slipway images` lists the images there")
        return _image_record(row)

    def list_images(self) -> list[ImageRecord]:
        """Newest first, as `docker images` orders them."""
        with self._meta.snapshot() as tx:
            rows = tx.images()
        return [_image_record(row) for row in rows]

    def tag_image(self, image: ImageRecord, name: str) -> None:
        tag = tag_name(name)
        with self._meta.transaction() as tx:
            if tx.image(image.id) is None:
                raise ImageNotFound(f"cannot tag {image.id} as {tag}: the image is no longer in the store")
            tx.set_name(tag, image.id)

    def untag(self, name: str) -> ImageRecord | None:
        """Remove a name; the image it named (without it), or None if no image had that name."""
        tag = tag_name(name)
        with self._freeing_space(), self._meta.transaction() as tx:
            image_id = tx.delete_name(tag)
            row = tx.image(image_id) if image_id else None
        return _image_record(row) if row else None

    def remove_image(self, image: ImageRecord) -> None:
        """The record and its names; blobs and snapshots go at gc()."""
        with self._freeing_space(), self._meta.transaction() as tx:
            if not tx.delete_image(image.id):
                raise ImageNotFound(f"cannot remove image {image.id}: it is not in the store")

    # snapshots

    def snapshot_for_image(self, image: ImageRecord) -> SnapshotRecord | None:
        """The top snapshot of the image's layers, unpacking the layers not unpacked yet; None with no layers.

        Snapshots are keyed by chain id and shared between images; concurrent callers (threads or processes)
        wanting the same chain wait for one unpack and get the same snapshot."""
        diff_ids = image.config.rootfs.diff_ids
        parent: SnapshotRecord | None = None
        with self.lease():
            for descriptor, diff_id, chain_id in zip(
                image.manifest.layers, diff_ids, chain_ids(diff_ids), strict=True
            ):
                found = self._committed_for_chain(chain_id)
                if found is None:
                    with file_lock(self._locks / f"chain-{chain_id.removeprefix('sha256:')}.lock"):
                        found = self._committed_for_chain(chain_id) or self._unpack_snapshot(
                            parent, descriptor, diff_id, chain_id
                        )
                parent = found
        return parent

    def snapshot_for_layers(
        self, layers: Sequence[LayerInfo], *, fetch: Callable[[LayerInfo], None] | None = None
    ) -> SnapshotRecord | None:
        """The top snapshot of `layers` (bottom first), shared by chain id as in snapshot_for_image; None when empty.

        A layer whose chain has no snapshot yet is unpacked from its blob; when the store has no blob of that
        diff_id, `fetch(layer)` is called first to put `layer.descriptor`'s blob in the store (a build cache
        import fetches only what it lacks). Fetched layers are recorded, so exporters reuse the same blobs."""
        parent: SnapshotRecord | None = None
        with self.lease():
            for layer, chain_id in zip(layers, chain_ids([layer.diff_id for layer in layers]), strict=True):
                found = self._committed_for_chain(chain_id)
                if found is None:
                    with file_lock(self._locks / f"chain-{chain_id.removeprefix('sha256:')}.lock"):
                        found = self._committed_for_chain(chain_id)
                        if found is None:
                            found = self._unpack_layer_snapshot(parent, layer, chain_id, fetch)
                parent = found
        return parent

    def create_snapshot(self, parent: int | None) -> SnapshotRecord:
        """An active snapshot: empty fs/ and work/ dirs, owned by this process until committed or removed."""
        with self._meta.transaction() as tx:
            if parent is not None:
                parent_row = tx.snapshot(parent)
                if parent_row is None or not parent_row.committed:
                    raise StoreError(f"cannot create a snapshot on {parent}: it is not a committed snapshot")
            snapshot_id = tx.insert_snapshot(parent, self._owner)
        try:
            with reporting_no_space(self.root, f"making snapshot {snapshot_id}"):
                self._dirs.create(snapshot_id)
        except BaseException:
            with self._freeing_space(), self._meta.transaction() as tx:
                tx.delete_snapshot(snapshot_id)
            raise
        return self.get_snapshot(snapshot_id)

    def commit_snapshot(self, snapshot_id: int, *, synced: Future[None] | None = None) -> SnapshotRecord:
        """Mark the snapshot done: later steps may build on it. `synced`: its data is still being written to
        disk; until that ends, nothing that outlives this process points at it (cache records are held, and
        layers and images wait), so a crash never leaves a record of a half-written tree."""
        if synced is not None:
            with self._syncing_lock:
                self._syncing[snapshot_id] = synced
        with self._meta.transaction() as tx:
            _existing_snapshot(tx, snapshot_id)
            tx.commit_snapshot(snapshot_id)
            row = tx.snapshot(snapshot_id)
        assert row is not None
        return self._snapshot_record(row)

    def set_snapshot_layer(
        self, snapshot_id: int, info: LayerInfo, *, deferred: bool = False
    ) -> SnapshotRecord:
        """Once the snapshot's layer is packed: record its diff_id, chain_id (from the parent's) and the layer.

        `deferred`: `info` is the uncompressed layer measured by `measure_tree`, not written; its blob is
        packed from this (committed) snapshot when first read."""
        self._publish_synced()  # a chain id makes the snapshot findable by other images: durable first
        with self._meta.transaction() as tx:
            row = _existing_snapshot(tx, snapshot_id)
            chain_id = ChainID(info.diff_id)
            if row.parent is not None:
                parent = _existing_snapshot(tx, row.parent)
                if parent.chain_id is None:
                    raise StoreError(
                        f"snapshot {snapshot_id}: its parent {row.parent} has no layer yet; set the parent's "
                        "layer first (snapshot_chain gives the order)"
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
            row = _existing_snapshot(tx, snapshot_id)
        return self._snapshot_record(row)

    def get_snapshot(self, snapshot_id: int) -> SnapshotRecord:
        with self._meta.snapshot() as tx:
            row = _existing_snapshot(tx, snapshot_id)
        return self._snapshot_record(row)

    def snapshot_chain(self, snapshot_id: int) -> list[SnapshotRecord]:
        """Bottom layer first, ending with `snapshot_id`."""
        chain: list[SnapshotRecord] = []
        with self._meta.snapshot() as tx:
            current: int | None = snapshot_id
            while current is not None:
                row = _existing_snapshot(tx, current)
                chain.append(self._snapshot_record(row))
                current = row.parent
        chain.reverse()
        return chain

    def remove_snapshot(self, snapshot_id: int) -> None:
        """Idempotent; StoreError if another snapshot has it as parent. Its cache records go with it."""
        with self._freeing_space():
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

    # build cache

    def cache_lookup(self, key: str) -> SnapshotRecord | None:
        with self._meta.snapshot() as tx:
            snapshot_id = tx.cache_get(key)
            row = tx.snapshot(snapshot_id) if snapshot_id is not None else None
        if row is None or not row.committed:
            return None
        return self._snapshot_record(row)

    def cache_record(self, key: str, snapshot_id: int) -> None:
        with self._syncing_lock:
            if snapshot_id in self._syncing:
                self._held_records.append((key, snapshot_id))  # written by _publish_synced
                return
        self._write_cache_record(key, snapshot_id)

    def _write_cache_record(self, key: str, snapshot_id: int) -> None:
        with self._meta.transaction() as tx:
            row = _existing_snapshot(tx, snapshot_id)
            if not row.committed:
                raise StoreError(f"cannot cache snapshot {snapshot_id} under {key!r}: commit it first")
            tx.cache_put(key, snapshot_id)

    def cache_clear(self) -> int:
        """Forget every build cache record (their snapshots go at the next gc()); how many there were."""
        with self._freeing_space(), self._meta.transaction() as tx:
            return tx.cache_clear()

    def cache_entries(self) -> list[CacheEntry]:
        """Every build cache record, oldest first."""
        with self._meta.snapshot() as tx:
            rows = tx.cache_entries()
        return [
            CacheEntry(key=key, snapshot_id=snapshot_id, created=created)
            for key, snapshot_id, created in rows
        ]

    def cache_forget(self, keys: Sequence[str]) -> int:
        """Forget these cache records (their snapshots go at the next gc()); how many were removed."""
        with self._freeing_space(), self._meta.transaction() as tx:
            return tx.cache_delete(list(keys))

    # build memos

    def remember_build(self, key: str, fingerprint: str, memo: memos.Memo, cache_keys: Sequence[str]) -> bool:
        """Keep the memo of a successful build (store/memos.py); False when what it names is gone already."""
        self._publish_synced()  # the steps' cache records, held until their snapshots are on disk
        with self._meta.transaction() as tx:
            return memos.put(tx.connection, key, fingerprint, memo, cache_keys)

    def snapshot_disk_usage(self, snapshot_id: int) -> int:
        """Bytes the snapshot's own tree holds on disk (its layer, not its parents')."""
        total = 0
        for directory, _dirs, files in os.walk(self._dirs.fs(snapshot_id)):
            for name in files:
                with suppress(OSError):
                    total += os.lstat(os.path.join(directory, name)).st_size
        return total

    # maintenance

    def gc(self, *, on_wait: Callable[[list[int]], None] | None = None) -> int:
        """Remove blobs, snapshots and layer records no image, cache record or live lease needs, and what dead
        processes left (their leases, work dirs, and mounts no lease explains); bytes freed.

        Waits for `lease()` blocks (pulls, loads, exports storing an image) to end, first calling
        `on_wait(pids holding them)`. Blobs put outside a lease and not yet part of an image are collected:
        hold `lease()` from put to add_image when gc may run at the same time."""
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
        if getattr(self._leases, "depth", 0):
            raise StoreError("gc() inside store.lease() would wait for itself; call it after the lease ends")

    def _collect_all(self) -> int:
        """What gc does once it holds the gc lock exclusively."""
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
                plan = plan_gc(tx, set(self._blobs.digests()), self._dirs.ids())
                for snapshot_id in plan.snapshots:
                    tx.delete_snapshot(snapshot_id)
                for digest in plan.layer_records:
                    tx.delete_layer(digest)
            freed = 0
            for snapshot_id in plan.snapshots + plan.orphaned_dirs:
                freed += self._dirs.remove(snapshot_id)
            for digest in plan.blobs:
                freed += self._blobs.remove(digest)
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
            layer_blobs = {info.descriptor.digest for info in tx.all_layers()}
            snapshots = tx.snapshots()
            deferred = {Digest(digest) for digest in tx.deferred_digests()}
        on_disk = set(self._blobs.digests())
        corrupt = {digest for digest in on_disk if not self._blobs.verify(digest)}
        problems += find_problems(images, layer_blobs, on_disk | deferred, corrupt)
        problems += [f"stray file {name} in {self._blobs.directory}" for name in self._blobs.strays()]
        problems += self._snapshot_problems(snapshots)
        return problems + leftover_problems(self.root, self.leases)

    def _snapshot_problems(self, snapshots: list[SnapshotRow]) -> list[str]:
        problems = [
            f"missing snapshot directory {self._dirs.fs(row.id)}"
            for row in snapshots
            if row.committed and not self._dirs.fs(row.id).is_dir()
        ]
        problems += [
            f"unfinished snapshot {row.id} ({self._dirs.directory / str(row.id)}) of a process that is gone "
            "(gc removes it)"
            for row in snapshots
            if not row.committed and not (row.owner is not None and is_alive(row.owner))
        ]
        problems += [
            f"orphaned snapshot directory {self._dirs.directory / str(snapshot_id)} (gc removes it)"
            for snapshot_id in sorted(self._dirs.ids() - {row.id for row in snapshots})
        ]
        return problems

    # internals

    @contextmanager
    def _removing_corrupt(self) -> Iterator[None]:
        """A blob found corrupt while read is removed (once a full re-hash agrees): its content is worth
        nothing, and without it the next pull, load or build of its image puts a sound copy back."""
        try:
            yield
        except CorruptBlob as err:
            if self._blobs.has(err.digest) and not self._blobs.verify(err.digest):
                self._blobs.remove(err.digest)
                log.warning("removed corrupt blob %s", err.digest)
                remedy = "it was removed from the store: pull, load or build its image again"
                raise CorruptBlob(err.digest, err.path, err.reason, remedy) from err
            raise

    def _freeing_space(self) -> AbstractContextManager[None]:
        """Around a transaction that removes records, and the deletions after it: it commits on a full disk."""
        return self._reserve.for_cleanup()

    def _config_blob(self, descriptor: Descriptor, config: ImageConfig) -> bytes:
        if self._blobs.has(descriptor.digest):
            data = self._blobs.read(descriptor.digest)
            if decode_json(data, ImageConfig) != config:
                raise DigestMismatch(
                    f"the config blob {descriptor.digest} in the store is not the image config given to add_image"
                )
        else:
            data = encode_json(config)
            self._blobs.put(data, expected=descriptor.digest)
        if len(data) != descriptor.size:
            raise DigestMismatch(
                f"the manifest says config {descriptor.digest} is {descriptor.size} bytes; it is {len(data)}"
            )
        return data

    def _manifest_blob(self, manifest: Manifest, digest: Digest | None) -> tuple[bytes, Digest]:
        if digest is None:
            data = encode_json(manifest)
            return data, self._blobs.put(data)
        data = self._blobs.read(digest)
        try:
            stored = decode_json(data, Manifest)
        except msgspec.DecodeError as err:
            raise DigestMismatch(f"the blob {digest} given as the manifest is not a manifest: {err}") from err
        if stored != manifest:
            raise DigestMismatch(
                f"the manifest blob {digest} in the store is not the manifest given to add_image"
            )
        return data, digest

    def _layer_info(self, descriptor: Descriptor, diff_id: DiffID) -> LayerInfo:
        with self._meta.snapshot() as tx:
            known = tx.layer(descriptor.digest)
        if known is None:
            path = self._blobs.path(descriptor.digest)
            if path.stat().st_size != descriptor.size:
                raise DigestMismatch(
                    f"layer {descriptor.digest} is {path.stat().st_size} bytes; the manifest says {descriptor.size}"
                )
            with self._blobs.open(descriptor.digest) as blob:
                measured, size, content_size = measure_layer(blob, descriptor.media_type)
            known = LayerInfo(
                diff_id=measured,
                descriptor=Descriptor(
                    media_type=descriptor.media_type, digest=descriptor.digest, size=descriptor.size
                ),
                uncompressed_size=size,
                content_size=content_size,
            )
        if known.diff_id != diff_id:
            raise DigestMismatch(
                f"layer {descriptor.digest} unpacks to {known.diff_id}, but the image config says {diff_id}"
            )
        return known

    def _publish_synced(self) -> None:
        """Wait for the syncs of committed snapshots, then write the cache records held for them."""
        with self._syncing_lock:
            syncing, self._syncing = self._syncing, {}
            held, self._held_records = self._held_records, []
        for synced in syncing.values():
            synced.result()  # a failed sync raises here, and its records are never written
        for key, snapshot_id in held:
            self._write_cache_record(key, snapshot_id)

    def _materialize(self, digest: Digest) -> None:
        """Pack a deferred layer's blob from its snapshot, verified against its digest; no-op for other blobs."""
        if self._blobs.has(digest):
            return
        with file_lock(self._locks / f"blob-{digest.removeprefix('sha256:')}.lock"):
            source = None if self._blobs.has(digest) else self.deferred_snapshot(digest)
            if source is None:
                return  # in the store by now, or not deferred: the blob store says BlobNotFound
            try:
                with self._blobs.ingest(expected=digest) as writer:
                    pack_layer(source.path, cast(BinaryIO, writer), compression="none")
            except DigestMismatch as err:
                raise _changed_snapshot(digest, source) from err
        log.debug("packed deferred layer %s from snapshot %d", digest, source.id)

    def _committed_for_chain(self, chain_id: ChainID) -> SnapshotRecord | None:
        with self._meta.snapshot() as tx:
            row = tx.committed_snapshot_for_chain(chain_id)
        if row is None or not self._dirs.fs(row.id).is_dir():
            return None
        return self._snapshot_record(row)

    def _unpack_snapshot(
        self, parent: SnapshotRecord | None, descriptor: Descriptor, diff_id: DiffID, chain_id: ChainID
    ) -> SnapshotRecord:
        with reporting_no_space(self.root, f"unpacking layer {diff_id}"):
            return self._unpack_into_snapshot(parent, descriptor, diff_id, chain_id)

    def _unpack_into_snapshot(
        self, parent: SnapshotRecord | None, descriptor: Descriptor, diff_id: DiffID, chain_id: ChainID
    ) -> SnapshotRecord:
        snapshot = self.create_snapshot(parent.id if parent else None)
        try:
            blob_digest = descriptor.digest
            if not self.has_blob(blob_digest):
                known = self.layer_by_diff_id(diff_id)
                blob_digest = known.descriptor.digest if known else blob_digest
            with self.open_blob(blob_digest) as blob:
                unpacked = unpack_layer(blob, descriptor.media_type, snapshot.path, whiteouts="overlay")
            if unpacked != diff_id:
                raise DigestMismatch(
                    f"layer {blob_digest} unpacked to {unpacked}, but the image says {diff_id}"
                )
            with self._meta.transaction() as tx:
                tx.set_snapshot_layer(snapshot.id, diff_id, chain_id)
                tx.commit_snapshot(snapshot.id)
                row = _existing_snapshot(tx, snapshot.id)
        except BaseException:
            with suppress(Exception):
                self.remove_snapshot(snapshot.id)
            raise
        log.debug("unpacked layer %s as snapshot %d", diff_id, snapshot.id)
        return self._snapshot_record(row)

    def _unpack_layer_snapshot(
        self,
        parent: SnapshotRecord | None,
        layer: LayerInfo,
        chain_id: ChainID,
        fetch: Callable[[LayerInfo], None] | None,
    ) -> SnapshotRecord:
        has_blob = self.has_blob(layer.descriptor.digest)
        if not has_blob and fetch is not None and self.layer_by_diff_id(layer.diff_id) is None:
            fetch(layer)
            has_blob = True
        snapshot = self._unpack_snapshot(parent, layer.descriptor, layer.diff_id, chain_id)
        if has_blob:
            # Recorded only now: the unpack has checked that this blob holds this diff_id.
            self.record_layer(layer)
        return snapshot

    def _snapshot_record(self, row: SnapshotRow) -> SnapshotRecord:
        return SnapshotRecord(
            id=row.id,
            parent=row.parent,
            path=self._dirs.fs(row.id),
            work=self._dirs.work(row.id),
            chain_id=row.chain_id,
            diff_id=row.diff_id,
            committed=row.committed,
            created=row.created,
        )


_PIPE_SIZE = 1 << 20


class _PackedStream(io.RawIOBase):
    """A deferred layer's tar, packed by a thread into a pipe and read from its other end; the last read
    checks that the packer produced exactly the recorded digest and size."""

    def __init__(self, source: SnapshotRecord, digest: Digest, size: int) -> None:
        super().__init__()
        self._source, self._digest, self._size = source, digest, size
        read_fd, write_fd = os.pipe()
        with suppress(OSError):  # a larger pipe: fewer switches between packer and reader
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        self._reader = open(read_fd, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._writer = open(write_fd, "wb", buffering=0)  # noqa: SIM115 - closed by the packer
        self._packed: LayerInfo | None = None
        self._error: BaseException | None = None
        self._read = 0
        self._thread = threading.Thread(target=self._pack, name=f"pack-{digest[7:19]}", daemon=True)
        self._thread.start()

    def _pack(self) -> None:
        try:
            with self._writer:
                self._packed = pack_layer(self._source.path, cast(BinaryIO, self._writer), compression="none")
        except BaseException as err:  # noqa: BLE001 - handed to the reader
            self._error = err

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._reader.closed:
            return 0
        view = memoryview(buffer)[: self._size - self._read]
        count = 0
        while count < len(view):  # a pipe returns what it holds; tarfile takes a short read for the end
            got = self._reader.readinto(view[count:]) or 0
            if got == 0:
                break
            count += got
        self._read += count
        if count < len(view) or self._read == self._size:
            self._reader.close()  # a packer with more to write than recorded gets EPIPE instead of blocking
            self._thread.join()
            self._verify()
        return count

    def _verify(self) -> None:
        if self._error is not None and not isinstance(self._error, BrokenPipeError):
            raise StoreError(
                f"cannot pack layer {self._digest} from snapshot {self._source.id}: {self._error}"
            )
        packed = self._packed
        if packed is None or Digest(packed.diff_id) != self._digest or packed.uncompressed_size != self._size:
            raise _changed_snapshot(self._digest, self._source)

    def close(self) -> None:
        if not self.closed:
            self._reader.close()  # a packer still writing gets EPIPE and ends
            self._thread.join()
        super().close()


def _changed_snapshot(digest: Digest, source: SnapshotRecord) -> StoreError:
    return StoreError(
        f"layer {digest}: snapshot {source.id} ({source.path}) no longer packs to it, so something changed the "
        "snapshot after it was built; `slipway builder prune -a` and build again"
    )


def _image_record(row: ImageRow) -> ImageRecord:
    manifest, config = row.decoded()
    return ImageRecord(
        id=row.id,
        manifest_digest=row.manifest_digest,
        manifest=manifest,
        config=config,
        names=row.names,
        created=row.created,
        size=row.size,
    )


def _existing_snapshot(tx: Transaction, snapshot_id: int) -> SnapshotRow:
    row = tx.snapshot(snapshot_id)
    if row is None:
        raise StoreError(f"no snapshot {snapshot_id} in the store")
    return row


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
