"""Users and groups as a container root defines them (/etc/passwd, /etc/group), resolved as Docker does.

`resolve_user` follows runc's libcontainer/user.GetExecUser, which Docker uses for `--user` and USER:
a numeric user is a uid even without a passwd entry, a name must exist, and supplementary groups come
from /etc/group only when no group is given. `resolve_owner` follows BuildKit's COPY --chown.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from slipway.errors import ContextError, RunFailed
from slipway.worker.rootpath import resolve_in_root

__all__ = [
    "ExecUser",
    "PasswdEntry",
    "GroupEntry",
    "resolve_user",
    "lookup_user",
    "resolve_owner",
    "read_passwd",
    "read_group",
]

MAX_ID = 2**31 - 1


class PasswdEntry(msgspec.Struct, frozen=True):
    name: str
    uid: int
    gid: int
    home: str


class GroupEntry(msgspec.Struct, frozen=True):
    name: str
    gid: int
    members: tuple[str, ...]


class ExecUser(msgspec.Struct, frozen=True):
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def read_passwd(root: Path) -> tuple[PasswdEntry, ...] | None:
    """The entries of root's /etc/passwd; None if it has none."""
    lines = _read_lines(root, "/etc/passwd")
    if lines is None:
        return None
    entries = []
    for fields in lines:
        if len(fields) < 4 or not fields[2].isdigit() or not fields[3].isdigit():
            continue  # a malformed line is skipped, as libcontainer does
        home = fields[5] if len(fields) > 5 else ""
        entries.append(PasswdEntry(fields[0], int(fields[2]), int(fields[3]), home))
    return tuple(entries)


def read_group(root: Path) -> tuple[GroupEntry, ...] | None:
    """The entries of root's /etc/group; None if it has none."""
    lines = _read_lines(root, "/etc/group")
    if lines is None:
        return None
    entries = []
    for fields in lines:
        if len(fields) < 3 or not fields[2].isdigit():
            continue
        members = tuple(name for name in (fields[3].split(",") if len(fields) > 3 else ()) if name)
        entries.append(GroupEntry(fields[0], int(fields[2]), members))
    return tuple(entries)


def resolve_user(root: Path, user: str) -> ExecUser:
    """The process identity for `user` ("", "name", "uid", "uid:gid", "name:group") in `root`.

    Raises RunFailed naming the user or group when a name is not in the root's files.
    """
    user_part, _, group_part = user.partition(":")
    passwd = read_passwd(root) or ()
    match = _find_user(passwd, user_part)
    if match is not None:
        uid, gid, home, name = match.uid, match.gid, match.home, match.name
    elif user_part and not user_part.isdigit():
        raise RunFailed(f"unable to find user {user_part}: no matching entries in passwd file")
    else:
        uid, gid, home, name = _numeric(user_part or "0", "user", RunFailed), 0, "/", ""
    groups = read_group(root) or ()
    if group_part:
        return ExecUser(uid, _group_id(groups, group_part, RunFailed), (), home or "/")
    additional = tuple(group.gid for group in groups if name and name in group.members)
    return ExecUser(uid, gid, additional, home or "/")


def lookup_user(root: Path, user: str) -> tuple[int, int, tuple[int, ...]]:
    """uid, gid and supplementary gids of `user` in `root` (see resolve_user)."""
    resolved = resolve_user(root, user)
    return resolved.uid, resolved.gid, resolved.additional_gids


def resolve_owner(root: Path, chown: str) -> tuple[int, int]:
    """uid and gid for COPY --chown=user[:group]: names through root's files, numbers as they are.

    As BuildKit: a user name without a group takes the user's primary group, a number without a group
    is used for both. Raises ContextError for a name the root does not know.
    """
    user_part, _, group_part = chown.partition(":")
    if not user_part:
        raise ContextError(f"--chown={chown}: no user given")
    if user_part.isdigit():
        uid = gid = _numeric(user_part, "user")
    else:
        entry = _find_user(read_passwd(root) or (), user_part)
        if entry is None:
            raise ContextError(
                f"--chown={chown}: unable to find user {user_part} in /etc/passwd of the destination"
            )
        uid, gid = entry.uid, entry.gid
    if group_part:
        gid = _group_id(read_group(root) or (), group_part, ContextError, prefix=f"--chown={chown}: ")
    return uid, gid


def _find_user(passwd: tuple[PasswdEntry, ...], user_part: str) -> PasswdEntry | None:
    # The first matching line wins; a numeric user is always a uid, "" is root by uid.
    for entry in passwd:
        if user_part == "" and entry.uid == 0:
            return entry
        if user_part.isdigit() and entry.uid == int(user_part):
            return entry
        if not user_part.isdigit() and entry.name == user_part:
            return entry
    return None


def _group_id(
    groups: tuple[GroupEntry, ...],
    group_part: str,
    error: type[RunFailed] | type[ContextError],
    prefix: str = "",
) -> int:
    for group in groups:
        if group.gid == int(group_part) if group_part.isdigit() else group.name == group_part:
            return group.gid
    if group_part.isdigit():
        return _numeric(group_part, "group", error)
    raise error(f"{prefix}unable to find group {group_part}: no matching entries in group file")


def _numeric(text: str, what: str, error: type[RunFailed] | type[ContextError] = ContextError) -> int:
    value = int(text)
    if value > MAX_ID:
        raise error(f"{what} id {value} is out of range (at most {MAX_ID})")
    return value


def _read_lines(root: Path, name: str) -> list[list[str]] | None:
    path = resolve_in_root(root, name)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as err:
        raise ContextError(f"cannot read {name} in {root}: {err.strerror}") from err
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows
