"""Where a RUN's secrets live while it runs: a private tmpfs, never a disk.

BuildKit writes each secret into a fresh tmpfs and bind-mounts that one file at the target; so does this. The
same tmpfs holds the container's bundle when the process environment carries a secret (`env=`), since the
runtime reads the environment from config.json. The tmpfs is recorded in the mount ledger before it is made,
so what a killed build left mounted is undone by the next command; its pages vanish with the unmount.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from slipway.worker.mounts import MS_NODEV, MS_NOSUID, mount, unmount
from slipway.worker.snapshots import MountLedger

__all__ = ["private_tmpfs", "write_secret"]


@contextmanager
def private_tmpfs(target: Path, *, ledger: MountLedger | None) -> Iterator[Path]:
    """A tmpfs only root can enter, mounted at `target` (made here), unmounted and removed on any exit."""
    target.mkdir(mode=0o700)
    try:
        with ledger.mount(target, "tmpfs") if ledger is not None else nullcontext():
            mount("tmpfs", target, "tmpfs", MS_NODEV | MS_NOSUID, "mode=0700")
            try:
                yield target
            finally:
                unmount(target)
    finally:
        os.rmdir(target)


def write_secret(directory: Path, name: str, data: bytes, *, uid: int, gid: int, mode: int) -> Path:
    """`data` as the file `name` in `directory` (a private tmpfs), owned and moded as the mount asks."""
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=directory_fd)
    finally:
        os.close(directory_fd)
    with open(fd, "wb") as out:
        out.write(data)
        os.fchown(out.fileno(), uid, gid)
        os.fchmod(out.fileno(), mode & 0o777)
    return directory / name
