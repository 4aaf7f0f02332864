"""Overlay mounts of snapshot chains: the root file system a RUN sees, and read-only views of a stage.

Mounts go through mount(2) and umount2(2) via ctypes rather than the `mount` command: no process per
mount (a build mounts once per step), the kernel's errno comes back as is, and nothing reads fstab or
rewrites the option string. overlayfs takes `lowerdir` top layer first; callers hand lowers bottom first,
as `Store.snapshot_chain` lists them.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from slipway.errors import MountError

__all__ = ["overlay_mount", "unmount", "is_mounted", "overlay_options", "sync_filesystem"]

log = logging.getLogger(__name__)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MNT_DETACH = 0x2

# The kernel copies mount data into one page, NUL included: a longer option string is cut or refused.
MAX_OPTIONS = 4095
# Fixed knobs so behaviour does not depend on the host's module defaults: a redirect or metacopy xattr
# in an upper dir has no representation in an OCI layer, and the index only matters for NFS export.
OVERLAY_FIXED_OPTIONS = "index=off,redirect_dir=off,metacopy=off"
UNMOUNT_ATTEMPTS = 6


def overlay_options(
    lowers: Sequence[Path],
    upper: Path | None = None,
    work: Path | None = None,
    *,
    relative_to: Path | None = None,
) -> str:
    """The overlay mount data for `lowers` (bottom first), with an upper+work dir or read-only.

    With `relative_to`, lower dirs are written relative to it: the mount must then be made from that dir.
    """

    def shown(path: Path) -> str:
        return _escape(Path(os.path.relpath(path, relative_to)) if relative_to is not None else path)

    lowerdir = ":".join(shown(path) for path in reversed(lowers))
    parts = [f"lowerdir={lowerdir}"]
    if upper is not None and work is not None:
        parts += [f"upperdir={_escape(upper)}", f"workdir={_escape(work)}"]
    parts.append(OVERLAY_FIXED_OPTIONS)
    options = ",".join(parts)
    if len(options.encode()) > MAX_OPTIONS:
        raise MountError(
            f"cannot mount {len(lowers)} layers: the overlay options are {len(options.encode())} bytes, "
            f"the kernel takes at most {MAX_OPTIONS}; use a shorter store root (--root) or squash the "
            "base image into fewer layers"
        )
    return options


@contextmanager
def overlay_mount(
    lowers: Sequence[Path],
    target: Path,
    *,
    upper: Path | None = None,
    work: Path | None = None,
) -> Iterator[Path]:
    """Mount `lowers` (bottom layer first) at `target`; unmounted on any exit.

    With `upper` and `work`: writable, changes land in `upper`. Without: a read-only view.
    """
    if (upper is None) != (work is None):
        raise ValueError("overlay_mount needs both upper and work, or neither")
    target.mkdir(parents=True, exist_ok=True)
    with _empty_lower_if_needed(lowers, upper, target) as lowers_to_mount:
        _mount_view(lowers_to_mount, target, upper, work)
        try:
            yield target
        finally:
            unmount(target)


@contextmanager
def _empty_lower_if_needed(lowers: Sequence[Path], upper: Path | None, target: Path) -> Iterator[list[Path]]:
    # overlayfs needs at least one lower dir; an upper on nothing gets an empty one, removed afterwards.
    if lowers or upper is None:
        yield list(lowers)
        return
    empty = Path(tempfile.mkdtemp(prefix=".lower-", dir=target.parent))
    try:
        os.chmod(empty, 0o755)
        yield [empty]
    finally:
        os.rmdir(empty)


def _mount_view(lowers: list[Path], target: Path, upper: Path | None, work: Path | None) -> None:
    if upper is None and not lowers:
        raise ValueError("overlay_mount needs at least one lower dir or an upper dir")
    if upper is None and len(lowers) == 1:
        # overlayfs refuses a single lower without an upper; a read-only bind mount shows the same tree.
        _mount(str(lowers[0]), target, None, MS_BIND, None)
        try:
            _mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
        except BaseException:
            unmount(target)
            raise
        return
    flags = MS_RDONLY if upper is None else 0
    try:
        options = overlay_options(lowers, upper, work)
    except MountError:
        _mount_relative(lowers, target, upper, work)
        return
    log.debug("overlay at %s: %s", target, options)
    _mount("overlay", target, "overlay", flags, options)


def _mount_relative(lowers: list[Path], target: Path, upper: Path | None, work: Path | None) -> None:
    """Deep chains: lower dirs relative to their common parent, mounted from there (as containerd does).

    A relative lowerdir resolves against the mounting process's working directory, and a thread must not
    chdir this process, so a child process (mount(8)) makes the mount from that directory.
    """
    common = Path(os.path.commonpath(lowers))
    options = overlay_options(lowers, upper, work, relative_to=common)  # MountError if still too long
    if upper is None:
        options += ",ro"
    argv = ["/bin/mount", "-t", "overlay", "overlay", "-o", options, str(target)]
    completed = subprocess.run(
        argv,
        cwd=common,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise MountError(f"cannot mount {len(lowers)} layers at {target}: {completed.stderr.strip()}")


def unmount(target: Path) -> None:
    """Unmount `target`; a no-op if nothing is mounted there. Busy mounts are retried, then detached."""
    libc = _libc()
    path = os.fsencode(target)
    for attempt in range(UNMOUNT_ATTEMPTS):
        if libc.umount2(path, 0) == 0:
            return
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOENT):
            return  # not a mount point (any more): already unmounted
        if code != errno.EBUSY:
            raise MountError(f"cannot unmount {target}: {os.strerror(code)}")
        time.sleep(0.05 * (attempt + 1))
    log.debug("unmount %s: still busy, detaching", target)
    if libc.umount2(path, MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise MountError(f"cannot detach {target}: {os.strerror(code)}")


def sync_filesystem(path: Path) -> None:
    """syncfs(2) of the file system holding `path`: what unmounting an overlay with an upper dir does, for a
    tree written without one (a COPY straight into its snapshot), before the snapshot is committed."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _libc().syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise MountError(f"cannot sync the file system of {path}: {os.strerror(code)}")
    finally:
        os.close(fd)


def is_mounted(target: Path) -> bool:
    """Whether `target` is a mount point in this mount namespace (per /proc/self/mountinfo)."""
    wanted = os.path.realpath(target)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as mountinfo:
        for line in mountinfo:
            mount_point = _unescape_mountinfo(line.split(" ")[4])
            if mount_point == wanted:
                return True
    return False


def _mount(source: str, target: Path, fstype: str | None, flags: int, data: str | None) -> None:
    libc = _libc()
    result = libc.mount(
        source.encode(),
        os.fsencode(target),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        code = ctypes.get_errno()
        hint = ""
        if code == errno.EPERM:
            hint = ": mounting needs root (CAP_SYS_ADMIN)"
        elif code == errno.ENODEV:
            hint = ": this kernel has no overlayfs (modprobe overlay)"
        elif code == errno.EINVAL and fstype == "overlay":
            hint = " (see dmesg for overlayfs' reason)"
        raise MountError(f"cannot mount {fstype or 'bind'} at {target}: {os.strerror(code)}{hint}")


def _libc() -> ctypes.CDLL:
    # CDLL(None) is the running program's symbol table, libc included; it needs no ldconfig lookup.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    libc.syncfs.argtypes = [ctypes.c_int]
    return libc


def _escape(path: Path) -> str:
    # overlayfs splits lowerdir on ":" and the option string on ",": both are escaped with a backslash.
    text = os.fspath(path)
    return text.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def _unescape_mountinfo(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field
