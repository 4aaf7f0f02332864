"""The content store: blobs (layers, configs, manifests) by digest, as containerd's content store has them.

Words: a *blob* is bytes named by their sha256 digest; *ingesting* writes one. Lifecycle: a blob is
invisible until verified — an ingest writes a temp file, checks its digest and size, and only then renames it
into place, so a reader sees a whole, verified blob or none, and a failed or cut-short ingest leaves nothing.
A blob never changes once in place; it goes only with `remove` (gc's). Reads are checked against the digest:
a blob found corrupt is removed, so the next pull, load or build puts a sound copy back. A deferred layer
(packed.py) is a blob too: `has` says so, and reading it packs it from its snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from slipway.image.oci import Digest
from slipway.image.tee import Readable
from slipway.store.blob_batch import BlobBatch
from slipway.store.blob_files import BlobFiles, BlobWriter, CorruptBlob
from slipway.store.packed import Packer
from slipway.store.records import SnapshotRecord
from slipway.store.space import reporting_no_space

__all__ = ["BlobIngester", "Blobs", "ChunkSink", "ContentStore"]

log = logging.getLogger(__name__)


class ChunkSink(Protocol):
    """What a transfer's ingest writes to: the body, read through to its end in spans the sink chooses."""

    def write_from(self, source: Readable, /) -> int: ...


class BlobIngester(Protocol):
    """Where a transfer streams a blob: the content store itself, or a batch of it."""

    def ingest(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> AbstractContextManager[ChunkSink]: ...


class ContentStore(Protocol):
    """Blobs by digest (see the module docstring for the lifecycle)."""

    def has(self, digest: Digest) -> bool: ...  # verified in place, or a deferred layer

    def open(self, digest: Digest) -> BinaryIO: ...  # BlobNotFound if absent

    def read(self, digest: Digest) -> bytes: ...  # whole, checked (configs, manifests)

    def stream(  # `size` bytes for a copy out of the store, checked as they are read
        self, digest: Digest, size: int, *, seekable: bool = False
    ) -> AbstractContextManager[BinaryIO]: ...

    def ingest(  # a writer; the blob is in place once the block ends and its digest and size check out
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> AbstractContextManager[BlobWriter]: ...

    def put(
        self, data: bytes, expected: Digest | None = None
    ) -> Digest: ...  # DigestMismatch if not `expected`

    def batch(self) -> AbstractContextManager[BlobBatch]: ...  # ingests made visible together, with one sync

    def remove(self, digest: Digest) -> int: ...  # bytes freed; 0 if absent

    def digests(self) -> Iterator[Digest]: ...  # every blob in place (not deferred ones)

    def verify(self, digest: Digest) -> bool: ...  # re-hash: does the content still match the name?

    def deferred(
        self, digest: Digest
    ) -> SnapshotRecord | None: ...  # the snapshot a deferred layer packs from


class Blobs:
    """The content store of one store root: its blob files, and its deferred layers packed on demand."""

    def __init__(self, root: Path, files: BlobFiles, packer: Packer) -> None:
        self._root = root
        self._files = files
        self._packer = packer
        # Ingests so far, by any thread (a pull fetches in several): a failed `Store.lease` that put some
        # collects them. A lost increment between threads only skips that cleanup.
        self.ingests = 0

    def has(self, digest: Digest) -> bool:
        return self._files.has(digest) or self._packer.source(digest) is not None

    def open(self, digest: Digest) -> BinaryIO:
        self._packer.pack(digest)
        return self._files.open(digest)

    def read(self, digest: Digest) -> bytes:
        self._packer.pack(digest)
        with self._removing_corrupt():
            return self._files.read(digest)

    @contextmanager
    def stream(self, digest: Digest, size: int, *, seekable: bool = False) -> Iterator[BinaryIO]:
        """For whoever copies a blob out of the store (archives, registries, cache exports): checked against
        `digest` as it is read, so a blob damaged on disk raises DigestMismatch (naming it) by the end of its
        copy and is never passed on whole. A deferred layer is packed as it is read (StoreError at the end if
        its snapshot no longer packs to it) unless `seekable` (an upload may retry): then it is packed first."""
        if seekable:
            self._packer.pack(digest)
        source = None if self._files.has(digest) else self._packer.source(digest)
        if source is None:
            with self._removing_corrupt(), self._files.verified(digest, size) as blob:
                yield cast(BinaryIO, blob)
            return
        with self._packer.stream(source, digest, size) as stream:
            yield cast(BinaryIO, stream)

    @contextmanager
    def ingest(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> Iterator[BlobWriter]:
        """`with blobs.ingest() as writer: writer.write(chunk)`; afterwards writer.digest/size are set and the
        blob is in place. On any exception, or a digest/size mismatch (DigestMismatch), nothing stays."""
        self.ingests += 1
        with (
            reporting_no_space(self._root, "writing a blob"),
            self._files.ingest(expected, expected_size) as writer,
        ):
            yield writer

    @contextmanager
    def batch(self) -> Iterator[BlobBatch]:
        """`with blobs.batch() as batch:` ingest, put or adopt blobs, from several threads if need be; they
        are in place once the block ends, all synced with one sync (blob_batch.py). On any exception, nothing
        of the batch stays."""
        self.ingests += 1
        with reporting_no_space(self._root, "writing a blob"), self._files.batch() as batch:
            yield batch

    def put(self, data: bytes, expected: Digest | None = None) -> Digest:
        self.ingests += 1
        with reporting_no_space(self._root, "writing a blob"):
            return self._files.put(data, expected)

    def remove(self, digest: Digest) -> int:
        return self._files.remove(digest)

    def digests(self) -> Iterator[Digest]:
        return self._files.digests()

    def verify(self, digest: Digest) -> bool:
        return self._files.verify(digest)

    def deferred(self, digest: Digest) -> SnapshotRecord | None:
        return self._packer.source(digest)

    @contextmanager
    def _removing_corrupt(self) -> Iterator[None]:
        """A blob found corrupt while read is removed (once a full re-hash agrees): its content is worth
        nothing, and without it the next pull, load or build of its image puts a sound copy back."""
        try:
            yield
        except CorruptBlob as err:
            if self._files.has(err.digest) and not self._files.verify(err.digest):
                self._files.remove(err.digest)
                log.warning("removed corrupt blob %s", err.digest)
                remedy = "it was removed from the store: pull, load or build its image again"
                raise CorruptBlob(err.digest, err.path, err.reason, remedy) from err
            raise
