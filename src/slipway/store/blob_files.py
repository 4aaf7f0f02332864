"""The blob files: <root>/blobs/sha256/<hex>, never partially visible (the content store, blobs.py, is built on them).

A blob is written to a temp file under the store's tmp dir (same file system), fsynced, checked against its
digest and size, then renamed into place and the directory fsynced: a reader sees a whole blob or none. A
batch (blob_batch.py: a pull's or a load's blobs) keeps that order with one sync for all its blobs.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from slipway.errors import BlobNotFound, DigestMismatch, StoreError
from slipway.image.oci import Digest
from slipway.image.tee import COPY_SIZE, Readable
from slipway.store.blob_batch import BlobBatch, blob_batch
from slipway.store.direct import DirectFile

__all__ = ["BlobFiles", "BlobWriter", "CorruptBlob", "VerifiedReader", "check_digest"]

_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_HASH_CHUNK = 1 << 20
_BLOB_MODE = 0o444  # blobs never change once in place


def check_digest(digest: str) -> str:
    """The hex part of a sha256 digest; StoreError for anything else, so no text from outside becomes a path."""
    match = _DIGEST.fullmatch(digest)
    if match is None:
        raise StoreError(
            f"{digest!r} is not a sha256 digest (expected 'sha256:' and 64 lower-case hex digits)"
        )
    return match.group(1)


class _File(Protocol):  # an open file object, or a DirectFile
    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...

    def flush(self) -> None: ...

    def fileno(self) -> int: ...

    def close(self) -> None: ...


class BlobWriter(io.BufferedIOBase):
    """A blob being written: `write()` chunks; `digest` and `size` are final once the ingest block exits."""

    def __init__(self, file: _File) -> None:
        super().__init__()
        self._file = file
        self._hash = hashlib.sha256()
        self.digest: Digest | None = None
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to a blob writer after its ingest block ended")
        self._hash.update(data)
        count = self._file.write(data)
        self.size += count
        return count

    def write_from(self, source: Readable, /) -> int:
        """Write all of `source` (a transfer's body), in large spans through one reused buffer."""
        view = memoryview(bytearray(COPY_SIZE))
        total = 0
        while count := source.readinto(view):
            total += self.write(view[:count])
        return total

    def _finish(self, *, sync: bool = True) -> Digest:
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())
        self._file.close()
        self.close()
        self.digest = Digest("sha256:" + self._hash.hexdigest())
        return self.digest

    def _discard(self) -> None:
        self._file.close()
        self.close()


class BlobFiles:
    """The blobs directory of one store; temp files go to `tmp` (on the same file system, for rename)."""

    def __init__(self, directory: Path, tmp: Path) -> None:
        self.directory = directory
        self._tmp = tmp

    def has(self, digest: Digest) -> bool:
        return self.path_of(digest).is_file()

    def path_of(self, digest: Digest) -> Path:
        """Where the blob is or would be; no check that it exists."""
        return self.directory / check_digest(digest)

    def path(self, digest: Digest) -> Path:
        path = self.path_of(digest)
        if not path.is_file():
            raise self._not_found(digest)
        return path

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return self.path_of(digest).open("rb")
        except FileNotFoundError as err:
            raise self._not_found(digest) from err

    def read(self, digest: Digest) -> bytes:
        """The whole blob, checked against its digest (for the small ones: configs, manifests)."""
        with self.open(digest) as blob:
            data = blob.read()
        actual = Digest("sha256:" + hashlib.sha256(data).hexdigest())
        if actual != digest:
            raise CorruptBlob(digest, self.path_of(digest), f"its content is {actual}")
        return data

    def put(self, data: bytes, expected: Digest | None = None) -> Digest:
        digest = self.digest_of(data, expected)
        if self.has(digest):
            return digest
        with self.ingest(expected=digest, expected_size=len(data)) as writer:
            writer.write(data)
        return digest

    def digest_of(self, data: bytes, expected: Digest | None) -> Digest:
        """The digest of `data`, which must be `expected` when given (DigestMismatch)."""
        digest = Digest("sha256:" + hashlib.sha256(data).hexdigest())
        if expected is not None and expected != digest:
            raise DigestMismatch(
                f"blob content is {digest}, not the expected {expected} ({len(data)} bytes): the source is corrupt "
                "or changed; fetch it again"
            )
        return digest

    @contextmanager
    def ingest(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> Iterator[BlobWriter]:
        with self.written(expected) as (temp, writer):
            yield writer
            digest = self.finish(writer, expected, expected_size, sync=True)
            if self.place(temp, digest):
                self.sync_directory()

    def batch(self) -> AbstractContextManager[BlobBatch]:
        """Blobs written now and made visible together with one sync (blob_batch.py)."""
        return blob_batch(self, self._tmp)

    @contextmanager
    def written(
        self, expected: Digest | None = None, *, direct: bool = False, size_hint: int | None = None
    ) -> Iterator[tuple[Path, BlobWriter]]:
        """A temp file (in the store's tmp) and its writer; the caller `finish`es it and places or moves the
        file inside the block. Whatever is still there when the block ends is removed. `direct`: written
        past the page cache (direct.py), for a batch's blobs, which its one syncfs makes durable."""
        if expected is not None:
            check_digest(expected)
        fd, temp_name = tempfile.mkstemp(prefix="ingest-", dir=self._tmp)
        temp = Path(temp_name)
        writer = BlobWriter(DirectFile(fd, size_hint) if direct else os.fdopen(fd, "wb"))
        try:
            yield temp, writer
        finally:
            writer._discard()
            with suppress(FileNotFoundError):
                temp.unlink()

    def finish(
        self, writer: BlobWriter, expected: Digest | None, expected_size: int | None, *, sync: bool
    ) -> Digest:
        """Close a written blob (fsynced if `sync`) and check its digest and size (DigestMismatch)."""
        digest = writer._finish(sync=sync)
        self._check(digest, writer.size, expected, expected_size)
        return digest

    def place(self, path: Path, digest: Digest) -> bool:
        """Rename a verified (and synced) file into place as blob `digest`; False when that blob is there
        already (then `path` stays for its owner to remove). The directory still wants a sync."""
        final = self.path_of(digest)
        if final.is_file():
            return False
        os.chmod(path, _BLOB_MODE)
        os.rename(path, final)
        return True

    def remove(self, digest: Digest) -> int:
        """Delete a blob; the bytes freed (0 if it was not there)."""
        path = self.path_of(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def digests(self) -> Iterator[Digest]:
        """Every blob in the directory (files with other names are not blobs: see `strays`)."""
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if _DIGEST.fullmatch("sha256:" + entry.name) and entry.is_file(follow_symlinks=False):
                    yield Digest("sha256:" + entry.name)

    def strays(self) -> list[str]:
        with os.scandir(self.directory) as entries:
            return sorted(
                entry.name
                for entry in entries
                if not (_DIGEST.fullmatch("sha256:" + entry.name) and entry.is_file(follow_symlinks=False))
            )

    def verify(self, digest: Digest) -> bool:
        """Re-hash a blob: does its content still match its name?"""
        hasher = hashlib.sha256()
        buffer = bytearray(_HASH_CHUNK)
        view = memoryview(buffer)
        with self.open(digest) as blob:
            while count := blob.readinto(view):  # type: ignore[attr-defined]
                hasher.update(view[:count])
        return "sha256:" + hasher.hexdigest() == digest

    def _check(self, digest: Digest, size: int, expected: Digest | None, expected_size: int | None) -> None:
        if expected_size is not None and size != expected_size:
            raise DigestMismatch(
                f"blob {expected or digest} is {size} bytes, expected {expected_size}: the transfer was cut short "
                "or the source is corrupt; fetch it again"
            )
        if expected is not None and digest != expected:
            raise DigestMismatch(
                f"blob content is {digest}, not the expected {expected} ({size} bytes): the source is corrupt "
                "or changed; fetch it again"
            )

    def sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def verified(self, digest: Digest, size: int) -> VerifiedReader:
        """The blob's `size` bytes, checked against its digest as they are read (see VerifiedReader)."""
        return VerifiedReader(self.open(digest), digest, size, self.path_of(digest))

    def _not_found(self, digest: Digest) -> BlobNotFound:
        return BlobNotFound(
            f"blob {digest} is not in the store ({self.directory}); pull or rebuild the image"
        )


class CorruptBlob(DigestMismatch):
    """A blob in the store whose file no longer holds its digest's content (the content store removes it)."""

    def __init__(
        self, digest: Digest, path: Path, reason: str, remedy: str = "`slipway system check` lists the damage"
    ) -> None:
        self.digest, self.path, self.reason = digest, path, reason
        super().__init__(f"blob {digest} in the store ({path}) is corrupt: {reason}; {remedy}")


class VerifiedReader(io.RawIOBase):
    """`size` bytes of a stored blob being copied out (an archive, a registry), hashed as they are read.

    The read that reaches the end raises DigestMismatch instead of handing out the last bytes of a blob that
    no longer matches its digest, as does a read that finds the file shorter than `size`; so what a copier
    wrote is never complete unless the blob was sound, with no second pass over it. Seeking back (a retried
    upload) re-reads bytes already hashed; a seek forward hashes the bytes it skips."""

    def __init__(self, file: BinaryIO, digest: Digest, size: int, path: Path) -> None:
        super().__init__()
        self._file, self._digest, self._size, self._path = file, digest, size, path
        self._hash = hashlib.sha256()
        self._position = 0
        self._hashed = 0  # bytes [0, _hashed) went into _hash

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence] + offset
        target = max(0, min(target, self._size))
        if target > self._hashed:
            self._file.seek(self._hashed)
            self._position = self._hashed
            scratch = bytearray(min(_HASH_CHUNK, target - self._hashed))
            while self._position < target:
                self.readinto(memoryview(scratch)[: target - self._position])
        self._file.seek(target)
        self._position = target
        return target

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        count = 0
        while count < wanted:  # a full count unless the file ends: tarfile takes a short read for the end
            try:
                got = self._file.readinto(view[count:wanted])  # type: ignore[attr-defined]
            except OSError as err:
                raise StoreError(f"cannot read blob {self._digest} ({self._path}): {err}") from err
            if not got:
                raise CorruptBlob(
                    self._digest, self._path, f"it ends after {self._position + count} of {self._size} bytes"
                )
            count += got
        end = self._position + count
        if end > self._hashed:
            self._hash.update(view[self._hashed - self._position : count])
            self._hashed = end
            if end == self._size:
                actual = "sha256:" + self._hash.hexdigest()
                if actual != self._digest:
                    raise CorruptBlob(self._digest, self._path, f"its content is {actual}")
        self._position = end
        return count

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()
