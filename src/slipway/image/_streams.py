"""Streams that hash and count what passes through them (a blob's digest, a layer's diff_id)."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from slipway.image.oci import Digest


class DigestingWriter(io.RawIOBase):
    """Forwards writes to `out`, hashing and counting them."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._hash.update(data)
        self._out.write(data)
        count = len(data) if not isinstance(data, memoryview) else data.nbytes
        self.size += count
        return count

    def flush(self) -> None:
        self._out.flush()

    @property
    def digest(self) -> Digest:
        return Digest("sha256:" + self._hash.hexdigest())


class DigestingReader(io.RawIOBase):
    """Reads from `source`, hashing and counting what was read."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        count: int = self._source.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            view = memoryview(buffer)[:count]
            self._hash.update(view)
            self.size += count
        return count

    def drain(self, chunk_size: int = 1 << 20) -> None:
        buffer = bytearray(chunk_size)
        while self.readinto(buffer):
            pass

    @property
    def digest(self) -> Digest:
        return Digest("sha256:" + self._hash.hexdigest())
