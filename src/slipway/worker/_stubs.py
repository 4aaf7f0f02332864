"""Mount points a container needs in its root file system: made before it starts, removed after it ends.

A mount's destination must exist for the runtime to mount on it, and what was made only for that must not
end up in the layer. BuildKit once removed such stubs by host paths computed before the RUN, which the RUN
could redirect onto the host by replacing a parent directory with a symlink (CVE-2024-23652). Here the
stubs are made by slipway itself, inside the root (symlinks followed as the runtime will follow them), and
each one's identity is recorded; afterwards an entry is removed only if it is reached again from the root's
fd without following any symlink, is still that very entry, and is still empty.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from typing import NamedTuple

from slipway.worker.rootpath import MAX_SYMLINKS, Made, Root, clean_parts, split_last

__all__ = ["MountStubs"]

log = logging.getLogger(__name__)

STUB_MODE = 0o755  # as runc makes a missing mount point


class _Stub(NamedTuple):
    made: Made
    is_dir: bool


class MountStubs:
    """The mount points made in `root`, to remove with `remove` (idempotent) once the container is gone."""

    def __init__(self, root: Root) -> None:
        self._root = root
        self._stubs: list[_Stub] = []

    def make(self, destination: str, *, is_dir: bool) -> None:
        """Make `destination` (a directory, or an empty file for a file's bind mount) and its missing parents,
        unless it exists. Something in the way is left for the runtime to report."""
        path = destination
        for _ in range(MAX_SYMLINKS):
            head, name = split_last(path)
            made: list[Made] = []
            try:
                parent_fd, _, parts = self._root.walk(head, follow_last=True, make=(STUB_MODE, None, made))
            except OSError as err:
                log.debug("mount point %s: %s", destination, err)
                return
            finally:
                self._stubs.extend(_Stub(entry, is_dir=True) for entry in made)
            try:
                target = self._make_leaf(parent_fd, name, "/".join(parts), is_dir=is_dir)
            finally:
                os.close(parent_fd)
            if target is None:
                return
            path = target if target.startswith("/") else "/".join((*parts, target))
        log.debug("mount point %s: too many symlinks; left to the runtime", destination)

    def _make_leaf(self, parent_fd: int, name: str, parent: str, *, is_dir: bool) -> str | None:
        """Make `name` in `parent_fd` if missing; the target of a symlink there, to follow; else None."""
        if not name:
            return None
        try:
            info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            return os.readlink(name, dir_fd=parent_fd) if stat.S_ISLNK(info.st_mode) else None
        before = os.stat(parent_fd)
        if is_dir:
            os.mkdir(name, STUB_MODE, dir_fd=parent_fd)
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            os.close(os.open(name, flags, STUB_MODE, dir_fd=parent_fd))
        info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        path = "/" + "/".join((*clean_parts(parent), name))
        made = Made(path, (info.st_dev, info.st_ino), (before.st_atime_ns, before.st_mtime_ns))
        self._stubs.append(_Stub(made, is_dir=is_dir))
        return None

    def remove(self) -> None:
        """Remove every stub that is still the empty entry made here, deepest first, and give the directories
        that held them back their times."""
        made_paths = {stub.made.path for stub in self._stubs}
        while self._stubs:
            stub = self._stubs.pop()
            head, name = split_last(stub.made.path)
            if self._remove_one(head, name, stub) and "/" + head not in made_paths:
                self._restore_times(head, stub.made.parent_times)

    def _remove_one(self, head: str, name: str, stub: _Stub) -> bool:
        try:
            parent_fd = self._root.open_exact(head)
        except OSError:
            return False  # a directory on the way was moved or replaced: what is there now is the layer's
        try:
            info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
            if (info.st_dev, info.st_ino) != stub.made.identity:
                return False
            if stub.is_dir and stat.S_ISDIR(info.st_mode):
                os.rmdir(name, dir_fd=parent_fd)
            elif not stub.is_dir and stat.S_ISREG(info.st_mode) and info.st_size == 0:
                os.unlink(name, dir_fd=parent_fd)
            else:
                return False
            return True
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                raise
            return False  # gone, or the process put something in it: then it belongs to the layer
        finally:
            os.close(parent_fd)

    def _restore_times(self, directory: str, times: tuple[int, int]) -> None:
        try:
            fd = self._root.open_exact(directory)
        except OSError:
            return
        try:
            os.utime(fd, ns=times)
        finally:
            os.close(fd)
