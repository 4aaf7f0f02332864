"""Rootless: this process enters a user namespace of its own, mapping the user's subordinate ids, and becomes
root there (as rootlesskit does for BuildKit and `buildah unshare` for Buildah).

Inside, slipway is uid 0 with every capability over what the namespace owns: it mounts overlayfs (kernel >= 5.11),
chowns files to any mapped id, and starts runc, which sees the namespace and runs rootless (no cgroup writes).
The map gives inner uid 0 to the user and 1..N to their /etc/subuid ranges in order (the same for groups), so
an image's owners are stored on disk as subordinate ids and read back, inside, as the image's own: layers are
byte for byte those of a root build. A private mount namespace holds every mount, so none outlives the process.

The ids are mapped by newuidmap/newgidmap (Debian's `uidmap`, setuid root), which check the ranges against
/etc/subuid and /etc/subgid; a helper forked before the unshare runs them on this process, as the namespace's
own processes cannot. Standard library only: the command line calls `enter` before it loads anything else.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from slipway.choices import ROOTLESS_VARIABLE
from slipway.errors import RootlessError

__all__ = [
    "ROOTLESS_VARIABLE",
    "IdRange",
    "enter",
    "id_map",
    "subordinate_ranges",
]

SUBUID_FILE = Path("/etc/subuid")
SUBGID_FILE = Path("/etc/subgid")
MAX_SUBID_FILE = 1 << 20
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
HELPER_PATH = "/usr/bin:/usr/sbin:/bin:/sbin"
ADD_RANGE_HINT = "as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}"


@dataclass(frozen=True, slots=True)
class IdRange:
    """`count` ids from `start` (outside the namespace) given to a user by /etc/subuid or /etc/subgid."""

    start: int
    count: int


def subordinate_ranges(text: str, user: str, uid: int) -> tuple[IdRange, ...]:
    """The ranges /etc/subuid (or /etc/subgid) text gives `user` (named, or by number), in file order."""
    found = []
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(fields[1]), int(fields[2])
        except ValueError:
            continue
        if start >= 0 and count > 0:
            found.append(IdRange(start, count))
    return tuple(found)


def id_map(own_id: int, ranges: tuple[IdRange, ...]) -> tuple[tuple[int, int, int], ...]:
    """(inner, outer, count) lines: inner 0 is the user's own id, 1.. the subordinate ranges, in order."""
    lines = [(0, own_id, 1)]
    inner = 1
    for subordinate in ranges:
        lines.append((inner, subordinate.start, subordinate.count))
        inner += subordinate.count
    return tuple(lines)


def enter() -> None:
    """Make this (single-threaded) process root of a new user and mount namespace mapping the user's ids.

    Raises RootlessError with what to do when the user has no subordinate ids or the kernel refuses."""
    uid, gid = os.getuid(), os.getgid()
    user = _user_name(uid)
    uid_ranges = subordinate_ranges(_read_subid_file(SUBUID_FILE), user, uid)
    gid_ranges = subordinate_ranges(_read_subid_file(SUBGID_FILE), user, uid)
    for ranges, path in ((uid_ranges, SUBUID_FILE), (gid_ranges, SUBGID_FILE)):
        if not ranges:
            raise RootlessError(
                f"rootless: {path} gives user {user} no subordinate ids, which a build needs for the owners "
                f"of image files; add a range, {ADD_RANGE_HINT.format(user=user)}"
            )
    helpers = {name: shutil.which(name, path=HELPER_PATH) for name in ("newuidmap", "newgidmap")}
    missing = [name for name, path in helpers.items() if path is None]
    if missing:
        raise RootlessError(
            f"rootless: {' and '.join(missing)} not found; install them (apt-get install uidmap)"
        )
    argvs = [
        [str(helpers["newuidmap"]), str(os.getpid()), *_flatten(id_map(uid, uid_ranges))],
        [str(helpers["newgidmap"]), str(os.getpid()), *_flatten(id_map(gid, gid_ranges))],
    ]
    _unshare_mapped(argvs)
    _unshare(CLONE_NEWNS, "a mount namespace")
    # Nothing mounted here may propagate back to the host's mount table.
    if _libc().mount(b"none", b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None) != 0:
        raise RootlessError(f"rootless: cannot make the mount namespace private: {_errno_text()}")
    os.environ[ROOTLESS_VARIABLE] = str(uid)


def _unshare_mapped(argvs: list[list[str]]) -> None:
    """unshare(CLONE_NEWUSER), with a helper forked before it writing our id maps (it stays outside)."""
    go_read, go_write = os.pipe()
    report_read, report_write = os.pipe()
    helper = os.fork()
    if helper == 0:  # the helper: wait for the unshare, map, report, exit
        os.close(go_write)
        os.close(report_read)
        os.read(go_read, 1)
        os._exit(_run_map_helpers(argvs, report_write))
    os.close(go_read)
    os.close(report_write)
    try:
        _unshare(CLONE_NEWUSER, "a user namespace")
    finally:
        os.write(go_write, b"x")
        os.close(go_write)
        _, status = os.waitpid(helper, 0)
        with os.fdopen(report_read, "rb") as report:
            message = report.read(4096).decode(errors="replace").strip()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RootlessError(
            f"rootless: cannot map the user's subordinate ids: {message or 'newuidmap failed'}"
        )


def _run_map_helpers(argvs: list[list[str]], report: int) -> int:
    try:  # both at once: each is a setuid exec, the longest part of the set-up
        helpers = [
            subprocess.Popen(
                argv, env={"PATH": HELPER_PATH}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            for argv in argvs
        ]
        failed = 0
        for argv, helper in zip(argvs, helpers, strict=True):
            _, stderr = helper.communicate()
            if helper.returncode != 0 and not failed:
                tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
                os.write(report, f"{Path(argv[0]).name}: {tail[0]}".encode())
                failed = 1
        return failed
    except BaseException as err:  # the forked helper must never return into the caller's code
        os.write(report, str(err).encode())
        return 1


def _unshare(flags: int, what: str) -> None:
    if _libc().unshare(flags) != 0:
        hint = ""
        if flags & CLONE_NEWUSER:
            hint = (
                " (is kernel.unprivileged_userns_clone or user.max_user_namespaces 0, or does a seccomp profile "
                "forbid it?)"
            )
        raise RootlessError(f"rootless: cannot create {what}: {_errno_text()}{hint}")


def _flatten(lines: tuple[tuple[int, int, int], ...]) -> list[str]:
    return [str(number) for line in lines for number in line]


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _read_subid_file(path: Path) -> str:
    try:
        with open(path, "rb") as file:
            return file.read(MAX_SUBID_FILE).decode(errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as err:
        raise RootlessError(f"rootless: cannot read {path}: {err.strerror}") from err


def _libc() -> ctypes.CDLL:
    library = ctypes.CDLL(None, use_errno=True)
    library.unshare.argtypes = [ctypes.c_int]
    text = ctypes.c_char_p
    library.mount.argtypes = [text, text, text, ctypes.c_ulong, text]
    return library


def _errno_text() -> str:
    return os.strerror(ctypes.get_errno())
