"""Overlay mounts of snapshot chains: the root file system a RUN sees, and read-only views of a stage.

overlayfs takes `lowerdir` top layer first; callers hand lowers bottom first, as the store's snapshotter plans
them (`mounted` takes its plan). Every mount is recorded in a `MountLedger` (the store's leases) before it is made and forgotten only
after it is unmounted, so whoever comes after a killed process finds and undoes what it left mounted.
"""

from __future__ import annotations

import ctypes
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Literal, Protocol, assert_never

from slipway.choices import is_rootless, overlay_driver
from slipway.errors import MountError
from slipway.worker.mount_plan import Direct, MountPlan, Overlay
from slipway.worker.mounts import MS_BIND, MS_RDONLY, MS_REMOUNT, is_mounted, libc, mount, unmount

__all__ = [
    "MountKind",
    "MountLedger",
    "mounted",
    "overlay_mount",
    "unmount",
    "is_mounted",
    "overlay_options",
    "sync_filesystem",
]

log = logging.getLogger(__name__)


# The kernel copies mount data into one page, NUL included: a longer option string is cut or refused.
MAX_OPTIONS = 4095
# overlayfs stacks at most this many lower dirs (OVL_MAX_STACK); more fails the mount with only EINVAL.
MAX_LOWERS = 500
# Fixed knobs so behaviour does not depend on the host's module defaults: a redirect or metacopy xattr
# in an upper dir has no representation in an OCI layer, and the index only matters for NFS export.
OVERLAY_FIXED_OPTIONS = "index=off,redirect_dir=off,metacopy=off"
# In a user namespace overlay keeps its bookkeeping in user.* xattrs (trusted.* is the host root's), and refuses
# userxattr with redirect_dir=off, which follows redirects found in lowers: nofollow never does.
OVERLAY_ROOTLESS_OPTIONS = "index=off,redirect_dir=nofollow,metacopy=off,userxattr"
# A writable overlay is volatile: its unmount does not sync the whole file system on the step's critical path
# (nor does an fsync inside the RUN). The snapshotter syncs a committed tree in the background instead, and
# publishes nothing that points at it before that sync ends (store/_syncs.py). Kernels before 5.10 refuse the
# option: there the unmount syncs, as it did.
OVERLAY_WRITABLE_OPTION = "volatile"
VOLATILE_SINCE = (5, 10)


def kernel_release(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of the running kernel's release ("6.1.0-18-amd64" -> (6, 1))."""
    major, _, rest = (release if release is not None else os.uname().release).partition(".")
    minor = rest.split(".", 1)[0].split("-", 1)[0]
    return int(major), int(minor) if minor.isdigit() else 0


MountKind = Literal["overlay", "bind", "tmpfs"]


class MountLedger(Protocol):
    """Where mounts are recorded: `mount(target, kind)` records `target` before the block mounts it and
    forgets it after the block, which unmounts it. The store's `leases` is one."""

    def mount(self, target: Path, kind: MountKind) -> AbstractContextManager[object]: ...


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

    if len(lowers) > MAX_LOWERS:
        raise MountError(
            f"cannot mount {len(lowers)} layers: overlayfs stacks at most {MAX_LOWERS} (docker refuses more "
            "than 125); build the image with fewer steps, or squash layers (several RUN commands in one)"
        )
    lowerdir = ":".join(shown(path) for path in reversed(lowers))
    parts = [f"lowerdir={lowerdir}"]
    if upper is not None and work is not None:
        parts += [f"upperdir={_escape(upper)}", f"workdir={_escape(work)}"]
        if kernel_release() >= VOLATILE_SINCE:
            parts.append(OVERLAY_WRITABLE_OPTION)
    parts.append(OVERLAY_ROOTLESS_OPTIONS if is_rootless() else OVERLAY_FIXED_OPTIONS)
    options = ",".join(parts)
    if len(options.encode()) > MAX_OPTIONS:
        raise MountError(
            f"cannot mount {len(lowers)} layers: the overlay options are {len(options.encode())} bytes, "
            f"the kernel takes at most {MAX_OPTIONS}; use a shorter store root (--root) or squash the "
            "base image into fewer layers"
        )
    return options


@contextmanager
def mounted(plan: MountPlan, target: Path, *, ledger: MountLedger | None) -> Iterator[Path]:
    """The root file system `plan` describes: an overlay at `target` (made if missing), unmounted on any exit;
    a direct plan's own tree; for the empty tree, `target` left empty."""
    match plan:
        case Direct():
            yield plan.path
        case Overlay(lowers=(), upper=None):
            target.mkdir(parents=True, exist_ok=True)
            yield target
        case Overlay():
            with overlay_mount(plan.lowers, target, upper=plan.upper, work=plan.work, ledger=ledger) as root:
                yield root
        case _:
            assert_never(plan)


@contextmanager
def overlay_mount(
    lowers: Sequence[Path],
    target: Path,
    *,
    upper: Path | None = None,
    work: Path | None = None,
    ledger: MountLedger | None,
) -> Iterator[Path]:
    """Mount `lowers` (bottom layer first) at `target`; unmounted on any exit.

    With `upper` and `work`: writable, changes land in `upper`. Without: a read-only view. `ledger` records the
    mount for as long as it may exist (None: not recorded, for tests of the mount itself).
    """
    if (upper is None) != (work is None):
        raise ValueError("overlay_mount needs both upper and work, or neither")
    target.mkdir(parents=True, exist_ok=True)
    kind: MountKind = "bind" if upper is None and len(lowers) == 1 else "overlay"
    with (
        ledger.mount(target, kind) if ledger is not None else nullcontext(),
        _empty_lower_if_needed(lowers, upper, target) as lowers_to_mount,
    ):
        server = _mount_view(lowers_to_mount, target, upper, work)
        try:
            yield target
        finally:
            unmount(target)
            if server is not None:
                from slipway.worker._fuse_mount import stop_fuse_overlay

                stop_fuse_overlay(server)
        if upper is not None and overlay_driver() == "fuse-overlayfs":
            from slipway.worker._fuse_upper import normalize_upper  # rootless only: imported by its users

            normalize_upper(upper, lowers)


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


def _mount_view(
    lowers: list[Path], target: Path, upper: Path | None, work: Path | None
) -> subprocess.Popen[bytes] | None:
    """Mount the view; fuse-overlayfs' server process, if the view is one of its mounts."""
    if upper is None and not lowers:
        raise ValueError("overlay_mount needs at least one lower dir or an upper dir")
    if upper is None and len(lowers) == 1:
        # overlayfs refuses a single lower without an upper; a read-only bind mount shows the same tree.
        mount(str(lowers[0]), target, None, MS_BIND, None)
        try:
            mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
        except BaseException:
            unmount(target)
            raise
        return None
    if overlay_driver() == "fuse-overlayfs":
        log.debug("fuse-overlayfs at %s", target)
        from slipway.worker._fuse_mount import start_fuse_overlay

        return start_fuse_overlay(_fuse_options(lowers, upper, work), target)
    flags = MS_RDONLY if upper is None else 0
    try:
        options = overlay_options(lowers, upper, work)
    except MountError:
        _mount_relative(lowers, target, upper, work)
        return None
    log.debug("overlay at %s: %s", target, options)
    mount("overlay", target, "overlay", flags, options)
    return None


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


def _fuse_options(lowers: list[Path], upper: Path | None, work: Path | None) -> list[str]:
    options = [f"lowerdir={':'.join(_escape(path) for path in reversed(lowers))}"]
    if upper is not None and work is not None:
        options += [f"upperdir={_escape(upper)}", f"workdir={_escape(work)}"]
    return options


def sync_filesystem(path: Path) -> None:
    """syncfs(2) of the file system holding `path`: what unmounting an overlay with an upper dir does, for a
    tree written without one (a COPY straight into its snapshot), before the snapshot is committed."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if libc().syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise MountError(f"cannot sync the file system of {path}: {os.strerror(code)}")
    finally:
        os.close(fd)


def _escape(path: Path) -> str:
    # overlayfs splits lowerdir on ":" and the option string on ",": both are escaped with a backslash.
    text = os.fspath(path)
    return text.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")
