"""Which overlay a rootless slipway mounts with: the kernel's overlayfs (Linux >= 5.11 lets a user namespace mount
it), else fuse-overlayfs (Debian's `fuse-overlayfs`, over /dev/fuse), as rootless BuildKit and Podman fall back.

`SLIPWAY_OVERLAY` forces one; otherwise a probe mount decides, once per store: its verdict is kept under the
store root, like the runtime's. fuse-overlayfs, once chosen, is set in `SLIPWAY_OVERLAY` for the rest of the
command, which is where the mounts (snapshots.py) read it. Root uses the kernel's unless told otherwise.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from slipway.choices import OVERLAY_DRIVERS, OVERLAY_VARIABLE, OverlayDriver, is_rootless
from slipway.errors import MountError, UsageError
from slipway.worker.mounts import mount, unmount
from slipway.worker.runtime import SAFE_PATH
from slipway.worker.snapshots import overlay_options

__all__ = ["OVERLAY_CHOICE_FILE", "choose_overlay_driver"]

log = logging.getLogger(__name__)

OVERLAY_CHOICE_FILE = "overlay-driver"  # under the store root: the probe's verdict


def choose_overlay_driver(root: Path) -> OverlayDriver:
    """The overlay driver for this command; `root` is the store. fuse-overlayfs is set in SLIPWAY_OVERLAY for
    the rest of the command (only a rootless slipway, so only the command line, ever chooses it unasked)."""
    setting = os.environ.get(OVERLAY_VARIABLE) or None
    if setting is not None and setting not in OVERLAY_DRIVERS:
        raise UsageError(f"{OVERLAY_VARIABLE}={setting}: expected one of {', '.join(OVERLAY_DRIVERS)}")
    driver: OverlayDriver = "overlay"
    if setting is not None:
        driver = "fuse-overlayfs" if setting == "fuse-overlayfs" else "overlay"
    elif is_rootless():
        driver = _remembered(root / OVERLAY_CHOICE_FILE) or _probe(root)
    if driver == "fuse-overlayfs":  # the kernel's is what an unset variable means: nothing to say then
        os.environ[OVERLAY_VARIABLE] = driver
    return driver


def _remembered(choice_file: Path) -> OverlayDriver | None:
    try:
        text = choice_file.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return "fuse-overlayfs" if text == "fuse-overlayfs" else "overlay" if text == "overlay" else None


def _probe(root: Path) -> OverlayDriver:
    """The kernel's overlay if a probe mount with an upper dir works here, else fuse-overlayfs if installed
    (else the kernel's still: its refusal is then the error a build shows). The verdict is kept."""
    work_dir = root / "tmp"
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="overlay-probe-", dir=work_dir) as probe:
        parts = {name: Path(probe) / name for name in ("lower", "upper", "work", "merged")}
        for path in parts.values():
            path.mkdir()
        try:
            options = overlay_options([parts["lower"]], parts["upper"], parts["work"])
            mount("overlay", parts["merged"], "overlay", 0, options)
            unmount(parts["merged"])
            driver: OverlayDriver = "overlay"
        except MountError as err:
            log.debug("overlay probe: %s", err)
            driver = "fuse-overlayfs" if shutil.which("fuse-overlayfs", path=SAFE_PATH) else "overlay"
    _keep(root / OVERLAY_CHOICE_FILE, driver)
    return driver


def _keep(choice_file: Path, driver: OverlayDriver) -> None:
    temporary = choice_file.with_name(f".{choice_file.name}.{os.getpid()}")
    temporary.write_text(f"{driver}\n", encoding="utf-8")
    os.replace(temporary, choice_file)
