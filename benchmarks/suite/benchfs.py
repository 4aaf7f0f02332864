"""The dedicated benchmark file system: a sparse ext4 image, loop-mounted without `discard`.

The root file system here is mounted with `discard` and slows down steadily under repeated create/delete of
large trees, so every builder's store and TMPDIR live on this one instead (see shared/BENCHMARKING.md).
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_IMAGE = Path("/var/lib/slipway-bench/fs.img")
DEFAULT_SIZE = "60G"
CONTEXTS_FS_SIZE = "4G"  # the second loop file system, for the contexts of the -loopfs workloads


def _is_mountpoint(path: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)], check=False).returncode == 0


@contextmanager
def bench_filesystem(image: Path = DEFAULT_IMAGE, size: str = DEFAULT_SIZE) -> Iterator[Path]:
    """Format a fresh file system in `image`, mount it beside it, yield the mount point, unmount at the end.

    A fresh mkfs each run gives every run the same empty, unfragmented starting state. One run at a time per
    image: a second waits for the first (its timings would be each other's load, and its clean-up of "a mount
    left behind" would pull the first's file system from under it).
    """
    image.parent.mkdir(parents=True, exist_ok=True)
    with open(image.with_suffix(".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another benchmark run using {image} to end", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield from _fresh_filesystem(image, size)


def _fresh_filesystem(image: Path, size: str) -> Iterator[Path]:
    mountpoint = image.with_suffix(".mnt")
    mountpoint.mkdir(parents=True, exist_ok=True)
    if _is_mountpoint(mountpoint):  # left behind by an interrupted run
        _unmount_all(mountpoint)
        subprocess.run(["umount", str(mountpoint)], check=True)
    image.unlink(missing_ok=True)
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    try:
        subprocess.run(["mkfs.ext4", "-q", "-E", "nodiscard", str(image)], check=True)
        subprocess.run(["mount", "-o", "loop,nodiscard", str(image), str(mountpoint)], check=True)
        try:
            yield mountpoint
        finally:
            _unmount_all(mountpoint)
            if subprocess.run(["umount", str(mountpoint)], check=False).returncode == 0:
                mountpoint.rmdir()
    finally:
        image.unlink(missing_ok=True)


def _unmount_all(mountpoint: Path) -> None:
    """What the builders left mounted on the bench file system (buildah keeps its storage's overlay home and
    image mounts until told otherwise), deepest first, so the file system itself can go."""
    inside = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            target = line.split(" ")[4].replace("\\040", " ")
            if target.startswith(f"{mountpoint}/"):
                inside.append(target)
    for target in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", target], check=False)


@contextmanager
def tmpfs_mount(mountpoint: Path, size: str = "2G") -> Iterator[Path]:
    """A tmpfs at `mountpoint` (created), unmounted at the end: build contexts on another file system than the
    stores (a tmpfs takes memory only for what is written to it)."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)], check=True
    )
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], check=False).returncode == 0:
            mountpoint.rmdir()
