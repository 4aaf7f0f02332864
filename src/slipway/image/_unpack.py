"""Extract tar entries into a directory without ever leaving it.

Layers are untrusted. Names are cleaned and refused if absolute or climbing with "..". Every entry is made
relative to a directory fd reached from `dest` one component at a time with O_NOFOLLOW, so a symlink in the
tree (from this layer or below) is never followed: an entry through one is refused. Hardlinks may only point
at entries this layer already wrote.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from slipway.choices import is_rootless
from slipway.errors import ArchiveError
from slipway.image.xattrs import overlay_opaque_xattr, requested_xattrs, set_xattr

log = logging.getLogger(__name__)
T = TypeVar("T")

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_CACHED_DIRS = 256
_MAX_MTIME_SECONDS = 2**63 // 1_000_000_000
_NO_ID = 2**32 - 1
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)  # left as OSError: the store turns them into DiskFull
_REGULAR_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE)


def members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The entries of a stream-mode TarFile, strictly: unlike TarFile.next, a bad or cut-off header after the
    first one is an error, not a quiet end of the archive. Members are not kept (TarFile.next keeps them all)."""
    first: tarfile.TarInfo | None = getattr(tar, "firstmember")  # noqa: B009  # read by TarFile.__init__
    setattr(tar, "firstmember", None)  # noqa: B010
    if first is None:
        return  # TarFile.__init__ already read the end-of-archive block (or raised on a bad first header)
    yield first
    while True:
        if tar.offset != tar.fileobj.tell():
            tar.fileobj.seek(tar.offset - 1)  # forward only: skips unread data
            if not tar.fileobj.read(1):
                raise ArchiveError("the layer tar is truncated: it ends inside an entry's data")
        try:
            member = tarfile.TarInfo.fromtarfile(tar)
        except tarfile.EOFHeaderError:  # type: ignore[attr-defined]
            return  # a zero block: the end-of-archive marker
        except (tarfile.EmptyHeaderError, tarfile.TruncatedHeaderError) as err:  # type: ignore[attr-defined]
            raise ArchiveError(f"the layer tar is truncated: no end-of-archive marker ({err})") from err
        except tarfile.HeaderError as err:
            raise ArchiveError(f"the layer tar has a corrupt header at byte {tar.offset}: {err}") from err
        yield member


def clean_name(name: str, *, link_of: str | None = None) -> str:
    """The path relative to dest ("" for dest itself) of an entry, or of the target of hardlink `link_of`;
    ArchiveError if it is absolute or climbs out."""
    what = f"layer entry {link_of!r} links to {name!r}, which" if link_of else f"layer entry {name!r}"
    if name.startswith("/"):
        raise ArchiveError(f"{what} is an absolute name; refusing to write outside the layer root")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{what} climbs out with '..'; refusing to write outside the layer root")
    return "/".join(parts)


class Extractor:
    """Applies entries to `dest`. `whiteouts`: "overlay" writes overlay whiteouts (dest is a fresh snapshot);
    "apply" deletes what they name (dest holds the layers below)."""

    def __init__(self, dest: Path, whiteouts: Literal["overlay", "apply"]) -> None:
        self._dest = dest
        self._whiteouts = whiteouts
        self._is_root = os.geteuid() == 0
        # In a user namespace the kernel makes no device nodes: skipped, as Docker and Podman do there.
        self._makes_devices = not is_rootless()
        self._dest_fd = os.open(dest, _DIR_FLAGS)
        self._dir_fds: dict[str, int] = {}
        self._written: set[str] = set()
        self._dir_metadata: dict[str, tarfile.TarInfo] = {}
        self._entry_name = ""  # for errors

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._forget_dirs("")
        os.close(self._dest_fd)

    def add(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        path = clean_name(member.name)
        self._entry_name = member.name
        if len(self._dir_fds) >= _MAX_CACHED_DIRS:
            self._forget_dirs("")  # only between entries: an entry's code holds fds from the cache
        try:
            self._add(path, member, tar)
        except (OSError, ValueError) as err:  # ValueError: a NUL in a name, link or xattr name
            if isinstance(err, OSError) and err.errno in _NO_SPACE:
                raise  # a full disk, not a bad layer: the caller names the file system
            reason = owner_error(member, err) if isinstance(err, OSError) else str(err)
            raise ArchiveError(
                f"cannot extract layer entry {member.name!r} into {self._dest}: {reason}"
            ) from err

    def finish(self) -> None:
        """Directory modes and mtimes last, deepest first: creating their entries changed the mtimes."""
        for path in sorted(self._dir_metadata, key=lambda item: item.count("/"), reverse=True):
            member = self._dir_metadata[path]
            if len(self._dir_fds) >= _MAX_CACHED_DIRS:
                self._forget_dirs("")
            try:
                fd = self._open_dir(path, create=False)
            except FileNotFoundError:
                continue  # a later entry replaced or whited it out
            except OSError as err:
                raise ArchiveError(f"cannot finish directory {path!r} in {self._dest}: {err}") from err
            os.chmod(fd, member.mode & 0o7777)
            mtime = mtime_ns(member)
            os.utime(fd, ns=(mtime, mtime))

    def _add(self, path: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        parent, _, base = path.rpartition("/")
        if base == OPAQUE_MARKER:
            self._opaque(parent)
        elif base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            log.debug("skipping aufs metadata %s", path)
        elif base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent, base[len(WHITEOUT_PREFIX) :], member)
        elif path == "":
            if not member.isdir():
                raise ArchiveError(f"layer entry {member.name!r} names the layer root but is not a directory")
            self._set_owner_and_xattrs(self._dest_fd, None, member)
            self._dir_metadata[""] = member
        else:
            self._entry(path, parent, base, member, tar)
            self._written.add(path)

    def _entry(
        self, path: str, parent: str, base: str, member: tarfile.TarInfo, tar: tarfile.TarFile
    ) -> None:
        parent_fd = self._open_dir(parent, create=True)
        if member.isdir():
            self._directory(path, parent_fd, base, member)
        elif member.type in _REGULAR_TYPES:
            self._regular(parent_fd, path, member, tar)
        elif member.islnk():
            self._hardlink(parent_fd, path, member)
        elif member.issym():
            self._replace(parent_fd, path, lambda: os.symlink(member.linkname, base, dir_fd=parent_fd))
            self._set_metadata_at(parent_fd, base, member, is_symlink=True)
        elif (member.ischr() or member.isblk()) and not self._makes_devices:
            log.debug("rootless: device node %s skipped", path)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            device = os.makedev(member.devmajor, member.devminor)
            self._replace(parent_fd, path, lambda: os.mknod(base, kind | 0o600, device, dir_fd=parent_fd))
            self._set_metadata_at(parent_fd, base, member, is_symlink=False)
        elif member.isfifo():
            self._replace(parent_fd, path, lambda: os.mkfifo(base, 0o600, dir_fd=parent_fd))
            self._set_metadata_at(parent_fd, base, member, is_symlink=False)
        else:
            raise ArchiveError(f"layer entry {member.name!r} has unsupported tar type {member.type!r}")

    def _directory(self, path: str, parent_fd: int, base: str, member: tarfile.TarInfo) -> None:
        try:
            os.mkdir(base, 0o700, dir_fd=parent_fd)
        except FileExistsError:
            existing = os.stat(base, dir_fd=parent_fd, follow_symlinks=False)
            if not stat.S_ISDIR(existing.st_mode):
                self._remove_at(parent_fd, path)
                os.mkdir(base, 0o700, dir_fd=parent_fd)
        fd = self._open_dir(path, create=False)
        self._set_owner_and_xattrs(fd, None, member)
        self._dir_metadata[path] = member

    def _regular(self, parent_fd: int, path: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        base = _base(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = self._replace(parent_fd, path, lambda: os.open(base, flags, 0o600, dir_fd=parent_fd))
        try:
            source = tar.extractfile(member)
            assert source is not None  # regular entries always have a data stream
            while chunk := source.read(1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            self._set_owner_and_xattrs(fd, None, member)
            os.chmod(fd, member.mode & 0o7777)  # after chown, which clears setuid/setgid
            mtime = mtime_ns(member)
            os.utime(fd, ns=(mtime, mtime))
        finally:
            os.close(fd)

    def _hardlink(self, parent_fd: int, path: str, member: tarfile.TarInfo) -> None:
        base = _base(path)
        target = clean_name(member.linkname, link_of=member.name)
        if target not in self._written:
            raise ArchiveError(
                f"layer entry {member.name!r} is a hardlink to {member.linkname!r}, which this layer has not "
                "written (yet); refusing a link to outside the layer"
            )
        target_parent, _, target_base = target.rpartition("/")
        target_fd = self._open_dir(target_parent, create=False)
        self._replace(
            parent_fd,
            path,
            lambda: os.link(
                target_base, base, src_dir_fd=target_fd, dst_dir_fd=parent_fd, follow_symlinks=False
            ),
        )

    def _whiteout(self, parent: str, name: str, member: tarfile.TarInfo) -> None:
        if name in ("", ".", ".."):
            raise ArchiveError(f"layer entry {member.name!r} is a whiteout of nothing; refusing it")
        path = f"{parent}/{name}" if parent else name
        if self._whiteouts == "overlay":
            parent_fd = self._open_dir(parent, create=True)
            self._replace(
                parent_fd, path, lambda: os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent_fd)
            )
            mtime = mtime_ns(member)  # so packing the snapshot again gives the same whiteout entry
            os.utime(name, ns=(mtime, mtime), dir_fd=parent_fd, follow_symlinks=False)
            return
        if path in self._written:
            return  # a whiteout hides lower layers only
        try:
            parent_fd = self._open_dir(parent, create=False)
        except FileNotFoundError:
            return  # nothing below to hide
        self._remove_at(parent_fd, path)

    def _opaque(self, directory: str) -> None:
        if self._whiteouts == "overlay":
            fd = self._open_dir(directory, create=True)
            os.setxattr(fd, overlay_opaque_xattr(), b"y")
            return
        try:
            fd = self._open_dir(directory, create=False)
        except FileNotFoundError:
            return
        prefix = f"{directory}/" if directory else ""
        for child in os.listdir(fd):
            if prefix + child not in self._written:
                self._remove_at(fd, prefix + child)

    def _replace(self, parent_fd: int, path: str, create: Callable[[], T]) -> T:
        """Run `create`; if the name is taken (by a lower layer or an earlier entry), remove that and retry."""
        try:
            return create()
        except FileExistsError:
            self._remove_at(parent_fd, path)
            return create()

    def _remove_at(self, parent_fd: int, path: str) -> None:
        """Remove `path` (whose parent is open as `parent_fd`), a whole tree if it is a directory."""
        base = _base(path)
        try:
            existing = os.stat(base, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(existing.st_mode):
            self._forget_dirs(path)
            for doomed in [
                name for name in self._dir_metadata if name == path or name.startswith(path + "/")
            ]:
                del self._dir_metadata[doomed]
            shutil.rmtree(base, dir_fd=parent_fd)  # fd-based: never follows a symlink inside
        else:
            os.unlink(base, dir_fd=parent_fd)

    def _set_metadata_at(
        self, parent_fd: int, base: str, member: tarfile.TarInfo, *, is_symlink: bool
    ) -> None:
        """Owner, mode, xattrs and mtime of an entry that cannot be opened (symlink, device, fifo)."""
        if self._is_root:
            os.chown(base, *entry_owner(member), dir_fd=parent_fd, follow_symlinks=False)
        if not is_symlink:
            # fchmodat cannot refuse to follow a symlink, but `base` was just created as a device or fifo.
            os.chmod(base, member.mode & 0o7777, dir_fd=parent_fd)
        # setxattr has no dir_fd form: go through the verified parent fd's /proc link.
        self._set_owner_and_xattrs(None, f"/proc/self/fd/{parent_fd}/{base}", member)
        mtime = mtime_ns(member)
        os.utime(base, ns=(mtime, mtime), dir_fd=parent_fd, follow_symlinks=False)

    def _set_owner_and_xattrs(self, fd: int | None, path: str | None, member: tarfile.TarInfo) -> None:
        if fd is not None and self._is_root:
            os.chown(fd, *entry_owner(member))
        target = fd if fd is not None else path
        assert target is not None
        for name, data in requested_xattrs(member.pax_headers, member.name):
            set_xattr(target, name, data, entry=member.name, archive="layer")

    def _open_dir(self, path: str, *, create: bool) -> int:
        """An fd of the directory `path` under dest, reached without following any symlink: from the nearest
        directory already open, one name at a time (a loop: an entry name may have thousands of parts)."""
        below: list[str] = []
        opened = path
        while opened and opened not in self._dir_fds:
            opened, _, base = opened.rpartition("/")
            below.append(base)
        fd = self._dir_fds[opened] if opened else self._dest_fd
        for base in reversed(below):
            opened = f"{opened}/{base}" if opened else base
            fd = self._open_child(fd, base, opened, create=create)
        return fd

    def _open_child(self, parent_fd: int, base: str, path: str, *, create: bool) -> int:
        try:
            fd = os.open(base, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(base, 0o755, dir_fd=parent_fd)  # a parent the tar does not list, as docker makes it
            fd = os.open(base, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise ArchiveError(
                    f"layer entry {self._entry_name!r} goes through {path!r}, which is not a directory in "
                    f"{self._dest} (a symlink or a file); refusing to write through it"
                ) from err
            raise
        self._dir_fds[path] = fd
        return fd

    def _forget_dirs(self, under: str) -> None:
        """Close cached fds of `under` and the directories below it ("" for all)."""
        doomed = [
            path for path in self._dir_fds if not under or path == under or path.startswith(under + "/")
        ]
        for path in doomed:
            os.close(self._dir_fds.pop(path))


def _base(path: str) -> str:
    return path.rpartition("/")[2]


def entry_owner(member: tarfile.TarInfo) -> tuple[int, int]:
    """An entry's uid and gid; ArchiveError for ids that are none (chown reads 2**32 - 1 as "leave as is")."""
    if not (0 <= member.uid < _NO_ID and 0 <= member.gid < _NO_ID):
        raise ArchiveError(f"archive entry {member.name!r}: invalid owner {member.uid}:{member.gid}")
    return member.uid, member.gid


def owner_error(member: tarfile.TarInfo, err: OSError) -> str:
    """Why an entry could not be written: for a rootless slipway, chown's EINVAL means an owner outside the ids its
    user namespace maps (the user's subordinate range), which a bigger range fixes; else the kernel's words."""
    if err.errno == errno.EINVAL and is_rootless():
        return (
            f"owner {member.uid}:{member.gid} is outside the ids a rootless build can store (0 to the size of "
            "the user's /etc/subuid and /etc/subgid ranges); give the user a larger range "
            "(usermod --add-subuids, --add-subgids) or build as root"
        )
    return str(err.strerror or err)


def mtime_ns(member: tarfile.TarInfo) -> int:
    """An entry's modification time in nanoseconds; ArchiveError for one no file system can hold (a PAX
    mtime of 1e400 is infinity; os.utime takes signed 64-bit nanoseconds)."""
    mtime = member.mtime
    if not (isinstance(mtime, int) or math.isfinite(mtime)) or abs(mtime) >= _MAX_MTIME_SECONDS:
        raise ArchiveError(f"archive entry {member.name!r}: invalid modification time {mtime!r}")
    return int(mtime * 1_000_000_000) if isinstance(mtime, float) else int(mtime) * 1_000_000_000
