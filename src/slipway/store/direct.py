"""A batch's blob files written straight to the disk (O_DIRECT), not through the page cache.

A pull or a load writes hundreds of MB that must be on the disk before the batch's records name them (one
syncfs, blob_batch.py). Through the page cache the kernel first copies every byte into fresh cache pages and
then writes them back: measured on these machines, 512 MiB took 1.4-3 s and about 1 s of CPU buffered and
synced, 0.4 s and 0.05 s of CPU direct. So the bytes are gathered in an aligned buffer of ours and written
from it to the disk in whole spans. The tail of a file (not a whole number of blocks) is written through the
cache, which the batch's one syncfs puts on the disk with the directory entries. Where the file system
refuses O_DIRECT (tmpfs before Linux 6.6, overlayfs, FUSE) every span goes through the cache instead.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
from contextlib import suppress

__all__ = ["DIRECT_SPAN", "DirectFile"]

DIRECT_SPAN = 1 << 20  # a multiple of any block size, and of the page size the buffer is aligned to
_BLOCK = 4096  # the buffer is sized in pages: whatever the device's logical block, it divides this


class DirectFile:
    """The writing end of a new, empty file opened as `fd` (which it owns and closes): `write` spans, then
    `flush` once the file is complete (the tail goes out), then `close`. Not thread-safe: one writer."""

    def __init__(self, fd: int, size_hint: int | None = None) -> None:
        self._fd = fd
        wanted = DIRECT_SPAN if size_hint is None else min(DIRECT_SPAN, size_hint)
        self._buffer = mmap.mmap(-1, max(_BLOCK, -(-wanted // _BLOCK) * _BLOCK))  # page-aligned memory
        self._view = memoryview(self._buffer)
        self._used = 0
        self.direct = _set_direct(fd, True)
        self.closed = False

    def fileno(self) -> int:
        return self._fd

    def write(self, data: bytes | bytearray | memoryview) -> int:
        source = memoryview(data).cast("B")
        taken = 0
        while taken < len(source):
            count = min(len(source) - taken, len(self._view) - self._used)
            self._view[self._used : self._used + count] = source[taken : taken + count]
            self._used += count
            taken += count
            if self._used == len(self._view):
                self._write_out()
        return taken

    def flush(self) -> None:
        """Write what is gathered: the file's tail, so only once the file is complete (after it, the file is
        written through the cache)."""
        if self._used and self.direct:
            self.direct = _set_direct(self._fd, False)  # a partial block cannot go direct
        self._write_out()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._fd)
            self._view.release()
            # A slice still held (by a traceback, after a failed write) keeps the buffer for the collector:
            # cleaning up must not replace the error that led here.
            with suppress(BufferError):
                self._buffer.close()

    def _write_out(self) -> None:
        written = 0
        while written < self._used:
            try:
                count = os.write(self._fd, self._view[written : self._used])
            except OSError as err:
                if not (self.direct and err.errno == errno.EINVAL):
                    raise
                self.direct = _set_direct(self._fd, False)  # accepted, then refused: through the cache
                continue
            written += count
            if written < self._used and self.direct:  # what follows is no longer aligned
                self.direct = _set_direct(self._fd, False)
        self._used = 0


def _set_direct(fd: int, direct: bool) -> bool:
    """Turn O_DIRECT on or off for `fd`; whether it is on (False where the file system refuses it)."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    wanted = flags | os.O_DIRECT if direct else flags & ~os.O_DIRECT
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, wanted)
    except OSError:
        return False
    return direct
