"""File locks (flock) between the threads and processes that share a store root.

flock locks belong to an open file description, so two opens in one process exclude each other just as two
processes do, and the kernel drops a dead process's locks.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["file_lock", "lock_holders", "try_file_lock"]


@contextmanager
def file_lock(
    path: Path, *, shared: bool = False, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold an flock on `path` (created if missing) for the block; waits for conflicting holders, calling
    `on_wait` first if there are any."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if on_wait is not None and not _lock_now(fd, mode):
            on_wait()
        fcntl.flock(fd, mode)  # a no-op if _lock_now got it
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


@contextmanager
def try_file_lock(path: Path) -> Iterator[bool]:
    """An exclusive flock on `path` if no one holds it now (True), else nothing (False); never waits."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        yield _lock_now(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


def lock_holders(path: Path) -> list[int]:
    """The PIDs holding an flock on `path` (from /proc/locks), for telling a user whom a wait is for."""
    try:
        info = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return []
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    holders = set()
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  READ  1234 08:01:5678 0 EOF"; waiters have "->" after the number.
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted and fields[4].isdigit():
            holders.add(int(fields[4]))
    return sorted(holders)


def _lock_now(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
