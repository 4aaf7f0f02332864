"""Content-addressed blobs: <root>/blobs/sha256/<hex>, never partially visible.

A blob is written to a temp file under the store's tmp dir, fsynced, checked against its digest and size,
then renamed into place (and the directory fsynced), so a reader sees a whole blob or none.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from slipway.image.oci import Digest

__all__ = ["BlobStore", "BlobWriter"]


class BlobWriter(io.BufferedIOBase):
    """A blob being written: `write()` chunks; `digest` and `size` are final once the ingest block exits."""

    digest: Digest | None
    size: int


class BlobStore:
    def __init__(self, directory: Path, tmp: Path) -> None:
        raise NotImplementedError

    def has(self, digest: Digest) -> bool:
        raise NotImplementedError

    def path(self, digest: Digest) -> Path:
        raise NotImplementedError

    def open(self, digest: Digest) -> BinaryIO:
        raise NotImplementedError

    def put(self, data: bytes, expected: Digest | None = None) -> Digest:
        raise NotImplementedError

    def ingest(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> AbstractContextManager[BlobWriter]:
        raise NotImplementedError

    def digests(self) -> Iterator[Digest]:
        raise NotImplementedError
