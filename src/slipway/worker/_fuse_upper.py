"""fuse-overlayfs' upper dir, made to say what the kernel's overlay would have said of the same changes, in the
kernel's words: a snapshot is one form whichever driver made it, and either driver can mount it later.

fuse-overlayfs marks every directory it creates as opaque (its xattr, a `.wh..wh..opq` file and a `.wh..opq`
0/0 device), and leaves a whiteout for what is removed, also where nothing below had that name; the kernel does
either only where a lower layer has the name. Such a marker hides nothing, but it would put a whiteout in the
layer and give a rootless build on fuse-overlayfs another digest than on the kernel's overlay. After the mount is
gone, markers for names that no lower layer has are removed, and an opaque directory gets the kernel's opaque
xattr instead of fuse-overlayfs' three marks (fuse-overlayfs reads the kernel's in a lower dir). Whiteouts are
0/0 devices in both; where fuse-overlayfs could not make one it leaves a file `.wh.NAME`, made a device here. So
the layer packer (image/_pack.py) reads one form only, whichever driver made the snapshot.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from slipway.errors import MountError
from slipway.image.xattrs import overlay_opaque_xattr

__all__ = ["normalize_upper"]

FUSE_OPAQUE_XATTR = "user.fuseoverlayfs.opaque"
MARKER_NAMES = (".wh..wh..opq", ".wh..opq")
WHITEOUT_PREFIX = ".wh."
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def normalize_upper(upper: Path, lowers: Sequence[Path]) -> None:
    """Remove fuse-overlayfs' opaque markers and whiteouts in `upper` for names that no lower dir has; mark the
    other opaque directories as the kernel's overlay does."""
    for directory, _, names, directory_fd in os.fwalk(upper):  # fd-based, never follows a symlink
        relative = os.path.relpath(directory, upper)
        for name in names:
            hidden = _whiteout_of(directory_fd, name)
            if hidden is None:
                continue
            if not _in_any(lowers, os.path.join(relative, hidden)):
                os.unlink(name, dir_fd=directory_fd)
            elif hidden != name:
                _make_device_whiteout(directory_fd, name, hidden, upper / relative)
        if relative == "." or not _is_marked(directory_fd, names):
            continue
        for name in MARKER_NAMES:
            if name in names:
                os.unlink(name, dir_fd=directory_fd)
        _remove_xattr(directory_fd)
        if _in_any(lowers, relative):
            os.setxattr(directory_fd, overlay_opaque_xattr(), b"y")


def _whiteout_of(directory_fd: int, name: str) -> str | None:
    """The name `name` whites out: itself for a 0/0 device, NAME for a file `.wh.NAME` (fuse-overlayfs' form
    where it may not make devices); None for anything else, opaque markers included."""
    if name in MARKER_NAMES:
        return None
    info = os.stat(name, dir_fd=directory_fd, follow_symlinks=False)
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
        return name
    if stat.S_ISREG(info.st_mode) and name.startswith(WHITEOUT_PREFIX):
        return name[len(WHITEOUT_PREFIX) :]
    return None


def _make_device_whiteout(directory_fd: int, name: str, hidden: str, where: Path) -> None:
    try:
        os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=directory_fd)
    except OSError as err:
        raise MountError(
            f"cannot turn fuse-overlayfs' whiteout {where / name} into an overlay whiteout: {err.strerror}; "
            "this kernel lets no user namespace make whiteouts (Linux >= 5.8 does)"
        ) from err
    os.unlink(name, dir_fd=directory_fd)


def _in_any(lowers: Sequence[Path], relative: str) -> bool:
    return any(_exists_in(lower, os.path.normpath(relative)) for lower in lowers)


def _is_marked(directory_fd: int, names: list[str]) -> bool:
    if any(name in names for name in MARKER_NAMES):
        return True
    try:
        return os.getxattr(directory_fd, FUSE_OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def _remove_xattr(directory_fd: int) -> None:
    try:
        os.removexattr(directory_fd, FUSE_OPAQUE_XATTR)
    except OSError as err:
        if err.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise


def _exists_in(lower: Path, relative: str) -> bool:
    """Whether `lower` has anything at `relative`, reached without following a symlink."""
    *parents, last = relative.split("/")
    try:
        fd = os.open(lower, DIRECTORY)
    except OSError:
        return False
    try:
        for part in parents:
            next_fd = os.open(part, DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        os.stat(last, dir_fd=fd, follow_symlinks=False)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
