"""A full file system under the store root: space held back for meta.db, and ENOSPC as a DiskFull error.

Why a reserve file. On a full file system SQLite can neither create `meta.db-shm` (it writes one byte into
each new page of it, so the first open of a root fails with "disk I/O error") nor append the WAL frames of a
commit ("database or disk is full"). Then the very transactions that clean up after the failure (removing a
half-written snapshot, `rmi`, `system prune`) fail as well and leave the partial data behind. No SQLite
setting prevents it: WAL mode appends frames and makes its -shm on open, rollback mode creates a -journal
for each commit, `journal_size_limit` only ever shrinks files, and SQLITE_FCNTL_CHUNK_SIZE / persistent WAL
are not reachable from Python's sqlite3 (nor do they help on a copy-on-write file system, where overwriting
a block needs a new one). Only free space guarantees a commit, and the only free space nobody else takes is
a file of our own: `<root>/meta.reserve`, RESERVE_BYTES allocated with posix_fallocate.

Only what frees space may spend it. Opening the store on a full disk borrows OPENING_LOAN (so that `rmi`
and `prune` can run at all), and the transactions that remove records run inside `for_cleanup()`, which
shrinks the reserve to nothing when the file system has less than RESERVE_BYTES free. The reserve is topped
up again after each cleanup (its files are gone by then) and when the store closes (meta.db's -wal and -shm
with it). Every other write (a build step, a pull) meets ENOSPC while most of the reserve is still held.

What it cannot do: another process writing to the same file system may take the released space first; and
8 MiB covers a cleanup transaction that rewrites up to ~2000 pages of meta.db (far more than a store of
thousands of images has), not more.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slipway.errors import DiskFull
from slipway.store import META_RESERVE

__all__ = [
    "NO_SPACE_ERRNOS",
    "OPENING_LOAN",
    "RESERVE_BYTES",
    "SpaceReserve",
    "as_disk_full",
    "is_full",
    "is_no_space",
    "naming_disk_full",
    "no_space",
    "reporting_no_space",
]

log = logging.getLogger(__name__)

RESERVE_BYTES = 8 << 20
OPENING_LOAN = 1 << 20  # lent to open the store on a full disk: meta.db-shm (32 KiB), a temp dir, a read
_STEP = 64 << 10  # topping up on a nearly full disk: what does not fit in one go is taken this much at a time
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# A file system with less than this free is full: a process that met ENOSPC leaves at most a block or two.
FULL_BELOW_BYTES = 1 << 20


def is_no_space(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in NO_SPACE_ERRNOS


def no_space(root: Path, doing: str, err: BaseException | None = None) -> DiskFull:
    """The one message for a full disk: what was being done, where, and what to do."""
    quota = " (disk quota exceeded)" if isinstance(err, OSError) and err.errno == errno.EDQUOT else ""
    return DiskFull(
        f"{doing}: no space left on device under {root}{quota}; nothing of it was kept. Free space there "
        "(`slipway system prune -a` removes unused images and the build cache) and try again"
    )


def as_disk_full(err: BaseException, root: Path, step: str) -> DiskFull | None:
    """A step's ENOSPC (from its own writes) or DiskFull (from the store's) as DiskFull naming the step;
    None for any other error."""
    if is_no_space(err):
        return no_space(root, step, err)
    if isinstance(err, DiskFull) and not str(err).startswith(step):
        return DiskFull(f"{step}: {err}")
    return None


@contextmanager
def naming_disk_full(root: Path, step: str) -> Iterator[None]:
    """Inside a build step: a full disk (ENOSPC, or the store's DiskFull) becomes DiskFull naming `step`."""
    try:
        yield
    except BaseException as err:
        full = as_disk_full(err, root, step)
        if full is not None:
            raise full from err
        raise


@contextmanager
def reporting_no_space(root: Path, doing: str) -> Iterator[None]:
    """ENOSPC or EDQUOT inside the block becomes DiskFull naming `doing`; other errors pass as they are."""
    try:
        yield
    except OSError as err:
        if is_no_space(err):
            raise no_space(root, doing, err) from err
        raise


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def is_full(path: Path) -> bool:
    """Whether the file system holding `path` is full (for an unprivileged writer)."""
    try:
        return free_bytes(path) < FULL_BELOW_BYTES
    except OSError:
        return False


class SpaceReserve:
    """`<root>/meta.reserve`: a file whose allocated blocks are the reserve. It is shrunk to lend space and
    topped up in steps, keeping what it gets, so on a full disk the space only moves between it and meta.db's
    own files (-shm, -wal) and is never lost to other writers."""

    def __init__(self, root: Path, size: int = RESERVE_BYTES) -> None:
        self.path = root / META_RESERVE
        self._root = root
        self._size = size

    def held(self) -> int:
        """Bytes the reserve holds now."""
        try:
            return self.path.stat().st_blocks * 512
        except FileNotFoundError:
            return 0

    def top_up(self) -> None:
        """Grow the reserve back to its size, a step at a time, as far as the free space allows."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as err:
            log.debug("cannot open the meta.db reserve %s: %s", self.path, err)
            return
        try:
            held = os.fstat(fd).st_blocks * 512
            if held < self._size:
                _allocate_what_fits(fd, held, self._size)
        except OSError as err:
            # Best effort: a store with less reserve works, it only has less room to clean up on a full disk.
            log.debug("the meta.db reserve under %s stays at %d bytes: %s", self._root, self.held(), err)
        finally:
            os.close(fd)

    def lend(self, amount: int) -> bool:
        """Give `amount` bytes of the reserve back to the file system; False if it holds nothing."""
        held = self.held()
        if held == 0:
            return False
        os.truncate(self.path, max(0, held - amount))
        log.debug("lent %d bytes of the meta.db reserve under %s", min(held, amount), self._root)
        return True

    @contextmanager
    def for_cleanup(self) -> Iterator[None]:
        """Around a cleanup that must commit on a full disk (its transaction and the deletions after it):
        all of the reserve if the disk is short, topped up again afterwards as far as there is room."""
        if free_bytes(self._root) < self._size:
            self.lend(self._size)
        try:
            yield
        finally:
            self.top_up()


def _allocate_what_fits(fd: int, held: int, size: int) -> None:
    """Allocate the file up to `size` bytes; on a disk with less free, as many _STEPs as fit."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except OSError as err:
        if not is_no_space(err):
            raise
    for target in range(held + _STEP, size, _STEP):
        os.posix_fallocate(fd, 0, target)  # ENOSPC ends it: the steps before stay allocated
