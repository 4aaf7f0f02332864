"""What some tests need from the machine (root, runc, overlayfs, a tool), and what a missing one does.

Outside CI a missing prerequisite skips the tests that need it, with the reason (`-ra` lists it): a lone clone
on a machine without runc, or run as a user, still passes `make test` on what it can run. In CI (the CI
variable set to anything but "", "0", "false" or "no"; .ci/run sets CI=true, as GitHub Actions and GitLab do)
it is an error: a CI machine missing runc would otherwise report green having run no container at all.

Importable by name (`import prerequisites`): tests/ is on sys.path, as tests/conftest.py sits there without an
__init__.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from slipway.worker.executor import SAFE_PATH

CI_VARIABLE = "CI"
FILESYSTEMS = Path("/proc/filesystems")


def in_ci() -> bool:
    return os.environ.get(CI_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> NoReturn:
    """A prerequisite is missing: skip the test with `reason`, or fail it in CI."""
    if in_ci():
        pytest.fail(
            f"{reason} ({CI_VARIABLE} is set: a missing prerequisite is an error in CI)", pytrace=False
        )
    pytest.skip(reason)


def require_containers() -> None:
    """Root, runc and overlayfs (what the tests marked `root` need: mounts and containers), or missing()."""
    problem = container_problem()
    if problem is not None:
        missing(problem)


def container_problem() -> str | None:
    """Why this machine cannot mount overlays and run containers, or None if it can."""
    if os.geteuid() != 0:
        return "needs root (overlayfs mounts and runc containers): run the tests as root"
    if shutil.which("runc", path=SAFE_PATH) is None:
        return "needs runc: install it (apt-get install runc; scripts/setup does)"
    if not has_overlayfs():
        return "needs overlayfs: load the overlay module (modprobe overlay)"
    return None


def has_overlayfs() -> bool:
    """Whether the kernel offers overlayfs now (a loaded module or built in)."""
    try:
        listed = FILESYSTEMS.read_text()
    except OSError:
        return False
    return any(line.split()[-1:] == ["overlay"] for line in listed.splitlines())


def require_tool(name: str, package: str) -> str:
    """The path of the program `name`, or missing(): install `package`."""
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed: install {package} (scripts/setup does)")
    return found


def require_file(path: Path, package: str) -> Path:
    """`path`, or missing(): install `package`."""
    if not path.exists():
        missing(f"{path} is missing: install {package} (scripts/setup does)")
    return path
