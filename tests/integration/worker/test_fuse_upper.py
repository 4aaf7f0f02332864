"""fuse-overlayfs' upper dir put in the kernel overlay's form (worker/_fuse_upper.py): its marks for names no lower
layer has are dropped, the others said as the kernel says them. As root (0/0 devices, trusted.* xattrs)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from slipway.worker._fuse_upper import normalize_upper

pytestmark = pytest.mark.root


def whiteout(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def fuse_opaque(directory: Path) -> None:
    """As fuse-overlayfs marks a directory it makes: an xattr, a 0/0 device and a file."""
    directory.mkdir(parents=True)
    os.setxattr(directory, "user.fuseoverlayfs.opaque", b"y")
    whiteout(directory / ".wh..opq")
    (directory / ".wh..wh..opq").write_bytes(b"")


def is_device_whiteout(path: Path) -> bool:
    info = path.lstat()
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def test_marks_for_names_no_lower_has_are_dropped_and_the_others_said_as_the_kernel_does(
    tmp_path: Path,
) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "data").mkdir(parents=True)
    (lower / "gone").write_text("below\n")
    (lower / "old").write_text("below\n")
    fuse_opaque(upper / "fresh")  # made by the step: nothing below to hide
    fuse_opaque(upper / "data")  # removed and made again: hides the lower's
    whiteout(upper / "ghost")  # a stub made and removed by the step: nothing below
    whiteout(upper / "gone")
    (upper / ".wh.old").write_bytes(b"")  # fuse-overlayfs' whiteout where it could not make a device

    normalize_upper(upper, [lower])

    assert sorted(os.listdir(upper)) == ["data", "fresh", "gone", "old"]
    assert os.listdir(upper / "fresh") == [] and os.listdir(upper / "data") == []
    assert os.listxattr(upper / "fresh") == []
    assert os.listxattr(upper / "data") == ["trusted.overlay.opaque"]
    assert os.getxattr(upper / "data", "trusted.overlay.opaque") == b"y"
    assert is_device_whiteout(upper / "gone") and is_device_whiteout(upper / "old")
