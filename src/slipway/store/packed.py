"""Deferred layers: uncompressed layer blobs recorded but never written, packed from their snapshot when read.

A built layer is deferred: the build measures it (diff_id, size) and records it as an uncompressed layer whose
blob is packed from its committed snapshot the first time something reads it (save, push, check). So a build
writes no layer blob at all, as Docker's own layer store keeps no compressed copy. The content store
(blobs.py) asks the packer for a blob it does not hold: `pack` writes it into the blob files (verified against
its digest, as any ingest), `stream` packs it as it is read and writes nothing.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO, cast

from slipway.errors import DigestMismatch, StoreError
from slipway.image.layers import LayerInfo, pack_layer
from slipway.image.oci import Digest
from slipway.store.blob_files import BlobFiles
from slipway.store.locks import file_lock
from slipway.store.meta import MetaDB
from slipway.store.records import SnapshotRecord
from slipway.store.snapshots import SnapshotDirs

__all__ = ["Packer"]

log = logging.getLogger(__name__)

_PIPE_SIZE = 1 << 20


class Packer:
    """The deferred layers of one store: which snapshot each is packed from, and the packing."""

    def __init__(self, meta: MetaDB, files: BlobFiles, dirs: SnapshotDirs, locks: Path) -> None:
        self._meta = meta
        self._files = files
        self._dirs = dirs
        self._locks = locks

    def source(self, digest: Digest) -> SnapshotRecord | None:
        """The committed snapshot a deferred layer blob is packed from, or None if `digest` is not deferred."""
        with self._meta.snapshot() as tx:
            rows = tx.deferred_snapshots(digest)
        for row in rows:
            if self._dirs.fs(row.id).is_dir():
                return self._dirs.record(row)
        return None

    def pack(self, digest: Digest) -> None:
        """Write a deferred layer's blob, verified against its digest; a no-op for a blob in the files already,
        or one that is not deferred (the blob files then say BlobNotFound)."""
        if self._files.has(digest):
            return
        with file_lock(self._locks / f"blob-{digest.removeprefix('sha256:')}.lock"):
            source = None if self._files.has(digest) else self.source(digest)
            if source is None:
                return
            try:
                with self._files.ingest(expected=digest) as writer:
                    pack_layer(source.path, cast(BinaryIO, writer), compression="none")
            except DigestMismatch as err:
                raise changed_snapshot(digest, source) from err
        log.debug("packed deferred layer %s from snapshot %d", digest, source.id)

    def stream(self, source: SnapshotRecord, digest: Digest, size: int) -> PackedStream:
        """The deferred blob's `size` bytes, packed from `source` as they are read; nothing written to disk."""
        return PackedStream(source, digest, size)


class PackedStream(io.RawIOBase):
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
            raise changed_snapshot(self._digest, self._source)

    def close(self) -> None:
        if not self.closed:
            self._reader.close()  # a packer still writing gets EPIPE and ends
            self._thread.join()
        super().close()


def changed_snapshot(digest: Digest, source: SnapshotRecord) -> StoreError:
    return StoreError(
        f"layer {digest}: snapshot {source.id} ({source.path}) no longer packs to it, so something changed the "
        "snapshot after it was built; `slipway builder prune -a` and build again"
    )
