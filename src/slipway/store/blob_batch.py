"""Blobs ingested together and made visible together: one sync for all of them, not two per blob.

A pull or a load writes many blobs at once, in several threads. Each is written to a temp file and verified
as a single ingest does (blob_files.py), but not fsynced: verified blobs wait in the batch's own directory
under the store's tmp, named by their digest. When the batch ends without error, one syncfs(2) puts all their
bytes on disk, then each is renamed into place and the blobs directory is synced once. So a blob is still
never visible before its bytes are on disk, and the records that name it (images.add) come after it is.
When the batch ends with an error, or the process is killed, nothing was renamed: the batch's directory goes
with it (or with the dead process's work dir, _recovery.py). Blobs renamed into place before a kill and named
by no record yet are garbage the next open collects (`Store._recover`), as after a single ingest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.errors import SlipwayError, StoreError
from slipway.image.oci import Digest

if TYPE_CHECKING:
    from slipway.store.blob_files import BlobFiles, BlobWriter

__all__ = ["BlobBatch", "blob_batch"]


class BlobBatch:
    """Blobs staged for one commit; `ingest`, `put` and `adopt` may be called from several threads."""

    def __init__(self, files: BlobFiles, directory: Path) -> None:
        self._files = files
        self._directory = directory
        self._lock = threading.Lock()
        self._staged: dict[Digest, Path] = {}

    @contextmanager
    def ingest(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> Iterator[BlobWriter]:
        """As the content store's ingest, but the blob waits, verified, for the batch's commit (its bytes
        written straight to the disk meanwhile: store/direct.py)."""
        with self._files.written(expected, direct=True, size_hint=expected_size) as (temp, writer):
            yield writer
            digest = self._files.finish(writer, expected, expected_size, sync=False)
            self._stage(temp, digest)

    def put(self, data: bytes, expected: Digest | None = None) -> Digest:
        digest = self._files.digest_of(data, expected)
        if not self._files.has(digest):
            with self.ingest(digest, len(data)) as writer:
                writer.write(data)
        return digest

    def adopt(self, path: Path, digest: Digest) -> None:
        """Stage a file this process wrote under the store's tmp and hashed as it wrote it (an archive's entry):
        moved, not copied. Adopting a second file with the same digest keeps the first."""
        self._files.path_of(digest)  # the digest's form is checked before it names a file
        with self._lock:
            if digest in self._staged:
                return
            self._staged[digest] = self._move(path, digest)

    def _stage(self, temp: Path, digest: Digest) -> None:
        with self._lock:
            if digest not in self._staged:  # the same blob twice (a retried fetch): the temp file just goes
                self._staged[digest] = self._move(temp, digest)

    def _move(self, path: Path, digest: Digest) -> Path:
        staged = self._directory / digest.partition(":")[2]
        os.rename(path, staged)
        return staged

    def commit(self) -> list[Digest]:
        """One sync of everything staged, then the renames into place and one sync of the blobs directory;
        the digests staged."""
        from slipway.worker.snapshots import sync_filesystem  # the snapshotter's syncfs; loaded only here

        with self._lock:
            staged = dict(self._staged)
        if not staged:
            return []
        try:
            sync_filesystem(self._directory)
        except (OSError, SlipwayError) as err:
            raise StoreError(f"cannot write the blobs to disk: {err}") from err
        placed = [self._files.place(path, digest) for digest, path in staged.items()]
        if any(placed):
            self._files.sync_directory()
        return list(staged)


@contextmanager
def blob_batch(files: BlobFiles, tmp: Path) -> Iterator[BlobBatch]:
    """A batch whose blobs are committed when the block ends without error; nothing of it stays otherwise."""
    directory = Path(tempfile.mkdtemp(prefix="batch-", dir=tmp))
    try:
        batch = BlobBatch(files, directory)
        yield batch
        batch.commit()
    finally:
        with suppress(FileNotFoundError):
            shutil.rmtree(directory)
