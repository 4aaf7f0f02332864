"""Helpers of the disk-full, integrity and damaged-store tests: a store on a small tmpfs, the state a user
checks before and after a failure, busybox images.

The `slipway` command wrapper, the busybox rootfs and the mount listing come from the integration tests'
conftest, and the loopback registry from the registry tests' helpers: one copy of each.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The registry tests' helpers sit beside their conftest, which puts that folder on sys.path only for them.
REGISTRY_HELPERS = Path(__file__).resolve().parents[1] / "interop" / "registry"
if str(REGISTRY_HELPERS) not in sys.path:
    sys.path.insert(0, str(REGISTRY_HELPERS))

from _registry_servers import Registry, running_registry  # noqa: E402

import build_helpers  # noqa: E402

helpers = build_helpers.load()
Slipway = helpers.Slipway
describe = helpers.describe
import_busybox = helpers.import_busybox
make_context = helpers.make_context
mounts_under = helpers.mounts_under

__all__ = [
    "Registry",
    "Slipway",
    "StoreState",
    "assert_nothing_left",
    "describe",
    "fill_until",
    "import_busybox",
    "make_busybox_tar",
    "make_context",
    "mounts_under",
    "random_file",
    "reserve_held",
    "running_registry",
    "small_tmpfs",
]

RESERVE_FILE = "meta.reserve"


@contextlib.contextmanager
def small_tmpfs(mount_point: Path, size_mib: int = 64) -> Iterator[Path]:
    """A tmpfs of `size_mib` at `mount_point`; unmounted at the end with whatever a test left mounted under it."""
    mount_point.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        for line in reversed(mounts_under(mount_point)):
            subprocess.run(["umount", "--lazy", line.split()[1]], check=False, capture_output=True)


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill_until(mount_point: Path, free: int) -> Path:
    """A filler file that leaves about `free` bytes of the file system free (as a user's other data would)."""
    filler = mount_point / f"filler-{len(list(mount_point.glob('filler-*')))}"
    size = max(0, free_bytes(mount_point) - free)
    with open(filler, "wb") as out:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            try:
                size -= out.write(chunk[: min(len(chunk), size)])
            except OSError:
                break
    return filler


def random_file(path: Path, size: int, seed: int = 0) -> Path:
    """Incompressible content (zeros would compress to nothing in a layer blob)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = random.Random(seed)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            count = min(left, 1 << 20)
            out.write(generator.randbytes(count))
            left -= count
    return path


def make_busybox_tar(directory: Path) -> Path:
    rootfs = helpers.make_busybox_rootfs(directory / "rootfs")
    return Path(helpers.tar_directory(rootfs, directory / "busybox.tar"))


@dataclass(frozen=True)
class StoreState:
    """What a user can see of a store, and what must not change when a command fails."""

    images: tuple[str, ...]  # `slipway images` rows (repository, tag, id)
    blobs: frozenset[str]
    snapshots: frozenset[str]

    @classmethod
    def of(cls, slipway: Slipway) -> StoreState:
        rows = [
            line.split()[:3]
            for line in slipway.ok("images", "--no-trunc").stdout.splitlines()[1:]
            if line.strip()
        ]
        root = slipway.root
        return cls(
            images=tuple(" ".join(row) for row in sorted(rows)),
            blobs=frozenset(os.listdir(root / "blobs" / "sha256")),
            snapshots=frozenset(os.listdir(root / "snapshots")),
        )


def assert_nothing_left(slipway: Slipway, before: StoreState) -> None:
    """After a failed command: the store as it was, healthy, with nothing partial on disk or mounted."""
    assert StoreState.of(slipway) == before
    check = slipway("system", "check")
    assert check.returncode == 0 and "No problems found" in check.stdout, describe(check)
    assert os.listdir(slipway.root / "tmp") == [], "work dirs or blobs in ingestion were left behind"
    assert mounts_under(slipway.root) == []


def reserve_held(slipway: Slipway) -> int:
    path = slipway.root / RESERVE_FILE
    return path.stat().st_blocks * 512 if path.exists() else 0
