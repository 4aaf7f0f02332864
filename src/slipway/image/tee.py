"""A blob measured as it is copied, in one thread: the measure reads the source, and each span it reads is
written to the blob's file as well.

A pull streams a layer into the store and needs its diff_id, which takes decompressing it: the measure
(`measure_layer`) reads the network body through a `Tee`, so the blob's bytes pass once through this process
and are never read back from the disk. The spans are as large as the measure's reads (the gzip reader's
512 KiB), so hashing, writing and decompressing each run over a whole span with the GIL released, and there is
no hand-off between threads per chunk (a thread beside each fetch only contended for the GIL with it).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["COPY_SIZE", "Readable", "Tee"]

COPY_SIZE = 1 << 20  # what the measure leaves unread is copied in spans of this size


class Readable(Protocol):
    def readinto(self, buffer: Any, /) -> int | None: ...


class Tee(io.RawIOBase):
    """`source` read through: every span read is passed to `write` before the reader sees it.

    `error` is what the source or the writer raised (not the reader), as they raised it (a reader may wrap
    it: a decompressor's reader takes any OSError for a corrupt stream): then the copy is broken and nothing
    should be finished. A reader's own error leaves the copy whole once `drain` has copied the rest."""

    def __init__(self, source: Readable, write: Callable[[memoryview], object]) -> None:
        super().__init__()
        self._source = source
        self._write = write
        self.size = 0  # bytes read from the source (and written)
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            count = self._source.readinto(view) or 0
            if count:
                self._write(view[:count])
        except BaseException as err:
            self.error = err
            raise
        self.size += count
        return count

    def drain(self) -> None:
        """Copy what the reader left unread (a layer's bytes after its tar's end, or after a reader's error)."""
        view = memoryview(bytearray(COPY_SIZE))
        while self.readinto(view):
            pass
