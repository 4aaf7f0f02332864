"""Users and groups as a container root defines them (/etc/passwd, /etc/group), resolved as Docker does.

`resolve_user` follows runc's libcontainer/user.GetExecUser, which Docker uses for `--user` and USER:
a numeric user is a uid even without a passwd entry, a name must exist, and supplementary groups come
from /etc/group only when no group is given. `resolve_owner` follows BuildKit's COPY --chown.

The files come from an image, so they are read inside its root and with a cap (DESIGN.md). One that is not
a regular file (a FIFO would block, /dev/zero never end) is never read: for COPY --chown it counts as absent,
as runc's GetExecUserPath ignores a file it cannot open (a name is then not found, and the message says why).
A container is not started on such an image at all: runc itself reads both files to set up the process's
user, and would wait on a FIFO forever. A file past the cap is an error.
"""

from __future__ import annotations

import os

import msgspec

from slipway.errors import ContextError, FileTooLarge, NotRegularFile, RunFailed
from slipway.worker.rootpath import Root, opened

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
# Real passwd and group files are kilobytes; a few MiB leaves room for directory dumps and bounds the rest.
ACCOUNT_FILE_LIMIT = 4 << 20

RootLike = Root | str | os.PathLike[str]


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


def read_passwd(root: RootLike) -> tuple[PasswdEntry, ...]:
    """The entries of root's /etc/passwd (none if it has none)."""
    with opened(root) as root_dir:
        return _passwd_entries(_read_accounts(root_dir, "/etc/passwd", ContextError).rows)


def read_group(root: RootLike) -> tuple[GroupEntry, ...]:
    """The entries of root's /etc/group (none if it has none)."""
    with opened(root) as root_dir:
        return _group_entries(_read_accounts(root_dir, "/etc/group", ContextError).rows)


def _passwd_entries(rows: tuple[list[str], ...]) -> tuple[PasswdEntry, ...]:
    entries = []
    for fields in rows:
        if len(fields) < 4 or not fields[2].isdigit() or not fields[3].isdigit():
            continue  # a malformed line is skipped, as libcontainer does
        home = fields[5] if len(fields) > 5 else ""
        entries.append(PasswdEntry(fields[0], int(fields[2]), int(fields[3]), home))
    return tuple(entries)


def _group_entries(rows: tuple[list[str], ...]) -> tuple[GroupEntry, ...]:
    entries = []
    for fields in rows:
        if len(fields) < 3 or not fields[2].isdigit():
            continue
        members = tuple(name for name in (fields[3].split(",") if len(fields) > 3 else ()) if name)
        entries.append(GroupEntry(fields[0], int(fields[2]), members))
    return tuple(entries)


def resolve_user(root: RootLike, user: str) -> ExecUser:
    """The process identity for `user` ("", "name", "uid", "uid:gid", "name:group") in `root`.

    Raises RunFailed naming the user or group when a name is not in the root's files.
    """
    user_part, _, group_part = user.partition(":")
    with opened(root) as root_dir:
        passwd = _read_accounts(root_dir, "/etc/passwd", RunFailed)
        groups = _read_accounts(root_dir, "/etc/group", RunFailed)
    for accounts in (passwd, groups):
        if accounts.note:
            raise RunFailed(
                f"unable to find user {user_part or 'root'}{accounts.note}; the runtime reads it to set up "
                "the process and would block or fail on it: make it a regular file or remove it"
            )
    match = _find_user(_passwd_entries(passwd.rows), user_part)
    if match is not None:
        uid, gid, home, name = match.uid, match.gid, match.home, match.name
    elif user_part and not user_part.isdigit():
        raise RunFailed(f"unable to find user {user_part}: no matching entries in passwd file")
    else:
        uid, gid, home, name = _numeric(user_part or "0", "user", RunFailed), 0, "/", ""
    group_entries = _group_entries(groups.rows)
    # The primary group is a supplementary group too, as containerd sets them since CVE-2023-25173: a
    # process that drops its gid must not keep a group it was never given.
    if group_part:
        gid = _group_id(group_entries, group_part, RunFailed)
        return ExecUser(uid, gid, (gid,), home or "/")
    members = (group.gid for group in group_entries if name and name in group.members)
    return ExecUser(uid, gid, tuple(dict.fromkeys((gid, *members))), home or "/")


def lookup_user(root: RootLike, user: str) -> tuple[int, int, tuple[int, ...]]:
    """uid, gid and supplementary gids of `user` in `root` (see resolve_user)."""
    resolved = resolve_user(root, user)
    return resolved.uid, resolved.gid, resolved.additional_gids


def resolve_owner(root: RootLike, chown: str) -> tuple[int, int]:
    """uid and gid for COPY --chown=user[:group]: names through root's files, numbers as they are.

    As BuildKit: a user name without a group takes the user's primary group, a number without a group
    is used for both. Raises ContextError for a name the root does not know.
    """
    user_part, _, group_part = chown.partition(":")
    if not user_part:
        raise ContextError(f"--chown={chown}: no user given")
    with opened(root) as root_dir:
        if user_part.isdigit():
            uid = gid = _numeric(user_part, "user")
        else:
            passwd = _read_accounts(root_dir, "/etc/passwd", ContextError, prefix=f"--chown={chown}: ")
            entry = _find_user(_passwd_entries(passwd.rows), user_part)
            if entry is None:
                raise ContextError(
                    f"--chown={chown}: unable to find user {user_part} in /etc/passwd of the destination"
                    + passwd.note
                )
            uid, gid = entry.uid, entry.gid
        if group_part:
            groups = _read_accounts(root_dir, "/etc/group", ContextError, prefix=f"--chown={chown}: ")
            gid = _group_id(
                _group_entries(groups.rows),
                group_part,
                ContextError,
                prefix=f"--chown={chown}: ",
                note=groups.note,
            )
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
    note: str = "",
) -> int:
    for group in groups:
        if group.gid == int(group_part) if group_part.isdigit() else group.name == group_part:
            return group.gid
    if group_part.isdigit():
        return _numeric(group_part, "group", error)
    raise error(f"{prefix}unable to find group {group_part}: no matching entries in group file{note}")


def _numeric(text: str, what: str, error: type[RunFailed] | type[ContextError] = ContextError) -> int:
    value = int(text)
    if value > MAX_ID:
        raise error(f"{what} id {value} is out of range (at most {MAX_ID})")
    return value


class _Accounts(msgspec.Struct, frozen=True):
    rows: tuple[list[str], ...]
    note: str = ""  # why the file counts as absent (not a regular file), for the message


def _read_accounts(
    root: Root, name: str, error: type[RunFailed] | type[ContextError], prefix: str = ""
) -> _Accounts:
    """The colon-separated rows of `name` in `root`; none if there is no such regular file."""
    try:
        data = root.read(name, limit=ACCOUNT_FILE_LIMIT)
    except NotRegularFile as err:
        return _Accounts((), f": in the image, {err}")
    except FileTooLarge as err:
        raise error(f"{prefix}cannot read the image's {name}: {err}") from err
    except OSError as err:
        raise error(f"{prefix}cannot read {name} of the image: {err.strerror}") from err
    if data is None:
        return _Accounts(())
    rows = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return _Accounts(tuple(rows))
