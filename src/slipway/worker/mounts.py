"""The mount table of this process: mount(2), umount2(2) and /proc/self/mountinfo, through ctypes.

No process per mount (a build mounts once per step), the kernel's errno comes back as is, and nothing reads
fstab or rewrites the option string. What is mounted where and why is the caller's business (snapshots.py
makes overlay views; the store's leases record each mount before it is made and undo what a killed process
left, with `unmount` and `mount_points_under` from here).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import time
from pathlib import Path

from slipway.choices import is_rootless
from slipway.errors import MountError

__all__ = ["detach", "is_mounted", "libc", "mount", "mount_points_under", "unmount"]

log = logging.getLogger(__name__)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8  # a target that became a symlink is not followed off to some other mount
UNMOUNT_ATTEMPTS = 6


def mount(source: str, target: Path, fstype: str | None, flags: int, data: str | None) -> None:
    result = libc().mount(
        source.encode(),
        os.fsencode(target),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        code = ctypes.get_errno()
        hint = ""
        if code == errno.EPERM and is_rootless():
            hint = (
                f": the kernel ({os.uname().release}) refuses this mount in a user namespace; rootless builds "
                "need Linux >= 5.11 for overlayfs there, or build as root"
            )
        elif code == errno.EPERM:
            hint = ": mounting needs root (CAP_SYS_ADMIN)"
        elif code == errno.ENODEV:
            hint = ": this kernel has no overlayfs (modprobe overlay)"
        elif code == errno.EINVAL and fstype == "overlay":
            hint = " (see dmesg for overlayfs' reason)"
        raise MountError(f"cannot mount {fstype or 'bind'} at {target}: {os.strerror(code)}{hint}")


def unmount(target: Path, *, attempts: int = UNMOUNT_ATTEMPTS) -> None:
    """Unmount `target`; a no-op if nothing is mounted there. Busy mounts are retried, then detached."""
    path = os.fsencode(target)
    for attempt in range(attempts):
        if libc().umount2(path, UMOUNT_NOFOLLOW) == 0:
            return
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
            return  # not a mount point (any more): already unmounted
        if code != errno.EBUSY:
            raise MountError(f"cannot unmount {target}: {os.strerror(code)}")
        if attempt + 1 < attempts:
            time.sleep(0.05 * (attempt + 1))
    log.debug("unmount %s: still busy, detaching", target)
    detach(target)


def detach(target: Path) -> None:
    """Lazily unmount `target` (MNT_DETACH): gone from the mount table now, released once no one uses it.
    A no-op if nothing is mounted there."""
    if libc().umount2(os.fsencode(target), MNT_DETACH | UMOUNT_NOFOLLOW) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
            raise MountError(f"cannot detach {target}: {os.strerror(code)}")


def is_mounted(target: Path) -> bool:
    """Whether `target` is a mount point in this mount namespace (per /proc/self/mountinfo)."""
    wanted = os.path.realpath(target)
    return any(mount_point == wanted for mount_point in _mount_points())


def mount_points_under(directory: Path) -> list[Path]:
    """The mount points strictly below `directory` in this mount namespace, deepest first (the order to
    unmount them in); a point mounted several times over is listed once."""
    prefix = os.path.realpath(directory).rstrip("/") + "/"
    found = {point for point in _mount_points() if point.startswith(prefix)}
    return [Path(point) for point in sorted(found, key=lambda point: (-point.count("/"), point))]


def libc() -> ctypes.CDLL:
    # CDLL(None) is the running program's symbol table, libc included; it needs no ldconfig lookup.
    library = ctypes.CDLL(None, use_errno=True)
    text = ctypes.c_char_p
    library.mount.argtypes = [text, text, text, ctypes.c_ulong, text]
    library.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    library.syncfs.argtypes = [ctypes.c_int]
    return library


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as mountinfo:
        return [_unescape_mountinfo(line.split(" ")[4]) for line in mountinfo if line.strip()]


def _unescape_mountinfo(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field
