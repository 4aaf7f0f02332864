"""fuse-overlayfs mounts (worker/overlay_driver.py chose them): each served by a child of ours.

fuse-overlayfs serves its mount from a process of its own, which by default leaves its parent and lives on. It is
started here in the foreground instead, under `setpriv --pdeathsig KILL`: should slipway be killed, its mounts'
servers die with it, and the mounts with its mount namespace, rather than serving a dead namespace forever. It
ends by itself once its mount is unmounted; `stop_fuse_overlay` reaps it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from slipway.errors import MountError
from slipway.worker.mounts import is_mounted
from slipway.worker.runtime import SAFE_PATH

__all__ = ["start_fuse_overlay", "stop_fuse_overlay"]

READY_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.005
STOP_TIMEOUT_SECONDS = 10.0
MAX_ERROR_BYTES = 4096


def start_fuse_overlay(options: Sequence[str], target: Path) -> subprocess.Popen[bytes]:
    """fuse-overlayfs at `target` with `options` (lowerdir=..., upperdir=..., workdir=...), once it is mounted."""
    programs = {name: shutil.which(name, path=SAFE_PATH) for name in ("fuse-overlayfs", "setpriv")}
    if programs["fuse-overlayfs"] is None:
        raise MountError("cannot mount fuse-overlayfs: it is not installed (apt-get install fuse-overlayfs)")
    if programs["setpriv"] is None:
        raise MountError("cannot mount fuse-overlayfs: setpriv is missing (apt-get install util-linux)")
    # allow_other: a RUN's USER is another id of the namespace than the one serving the mount.
    argv = [
        str(programs["setpriv"]), "--pdeathsig", "KILL", "--",
        str(programs["fuse-overlayfs"]), "-f", "-o", ",".join([*options, "allow_other"]), str(target),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            argv, env={"PATH": SAFE_PATH}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not is_mounted(target):
            if process.poll() is not None or time.monotonic() > deadline:
                stop_fuse_overlay(process)
                errors.seek(0)
                raise _failure(target, errors.read(MAX_ERROR_BYTES).decode(errors="replace"))
            time.sleep(POLL_SECONDS)
    return process


def stop_fuse_overlay(process: subprocess.Popen[bytes]) -> None:
    """Reap the server of a mount that is gone (it ends by itself then), or kill it."""
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _failure(target: Path, stderr: str) -> MountError:
    reason = (stderr.strip().splitlines() or ["it exited without mounting"])[-1]
    hint = "; /dev/fuse must be open to the user (mode 0666)" if "/dev/fuse" in reason else ""
    return MountError(f"cannot mount fuse-overlayfs at {target}: {reason}{hint}")
