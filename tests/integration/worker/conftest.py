"""Fixtures of the worker's integration tests: a tiny busybox root file system, runc, overlay mounts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import prerequisites
from slipway.worker.executor import Executor
from slipway.worker.runtime import Runtime, find_runtime
from slipway.worker.snapshots import overlay_mount

BUSYBOX = Path("/bin/busybox")
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\nwheel:x:10:root\napp:x:1000:\nstaff:x:50:app\n"


def make_rootfs(rootfs: Path) -> Path:
    """/bin/busybox with its applets, /etc/passwd and /etc/group; no /proc, /dev, /sys, /tmp (as FROM
    scratch plus a COPY would have it), so what a run leaves behind shows."""
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "etc").mkdir()
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    listed = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout
    for applet in sorted(set(listed.split()) - {"busybox"}):
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text(PASSWD)
    (rootfs / "etc" / "group").write_text(GROUP)
    return rootfs


@pytest.fixture(scope="session")
def worker_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prerequisites.require_containers()
    prerequisites.require_file(BUSYBOX, "busybox-static")
    return make_rootfs(tmp_path_factory.mktemp("worker") / "rootfs")


@pytest.fixture(scope="session")
def runtime() -> Runtime:
    # The tests must pass with runc (crun 1.8 cannot start containers on hybrid-cgroup hosts).
    return find_runtime("runc")


@pytest.fixture
def layer(tmp_path: Path, worker_rootfs: Path) -> Iterator[tuple[Path, Path]]:
    """A writable overlay on the busybox tree: (mounted root, upper dir)."""
    upper, work, target = tmp_path / "upper", tmp_path / "work", tmp_path / "root"
    upper.mkdir()
    work.mkdir()
    with overlay_mount([worker_rootfs], target, upper=upper, work=work, ledger=None) as root:
        yield root, upper


@pytest.fixture
def executor(tmp_path: Path, runtime: Runtime) -> Executor:
    return Executor(runtime, tmp_path / "bundles", state_root=tmp_path / "runc-state", ledger=None)


@pytest.fixture
def mounts_under() -> Callable[[Path], list[str]]:
    """Mount points at or below a path, per /proc/self/mountinfo."""
    return _mounts_under


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split(" ")[4].replace("\\040", " ")
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            found.append(mount_point)
    return found
