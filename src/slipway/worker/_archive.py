"""ADD of a local tar archive: detected by content, unpacked inside the extraction dir, never outside.

As BuildKit's applyRootArchive: names are cleaned ("../" that leaves the extraction dir is refused),
symlinks met on the way resolve inside the extraction dir (as in the chroot Docker untars in), an entry
replaces what is in its way, ownership comes from the archive unless --chown says otherwise, dir times are
set last. The extraction dir is a `Root`: every entry is made by name in the fd of its parent directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

from slipway.errors import ArchiveError
from slipway.image._streams import end_guarded
from slipway.image.layers import entry_owner, mtime_ns, owner_error
from slipway.image.sniffed import decompressed, decompression_errors, read_exactly
from slipway.image.xattrs import requested_xattrs, set_xattr
from slipway.worker.rootpath import Root, lstat_at, remove_at, split_last

__all__ = ["is_archive", "extract_archive", "open_decompressed"]


def decode_errors() -> tuple[type[BaseException], ...]:
    """What reading an archive that is not one (or is cut short) raises."""
    return (tarfile.TarError, ValueError, *decompression_errors())


@contextlib.contextmanager
def open_decompressed(raw: BinaryIO) -> Iterator[BinaryIO]:
    """`raw`, from its start, read through the decompressor its first bytes call for (gzip, bzip2, xz, zstd or
    none)."""
    raw.seek(0)
    with decompressed(raw) as (_, stream):
        yield stream


def is_archive(raw: BinaryIO) -> bool:
    """Whether `raw` is a tar archive, compressed or not: its first header block must check out."""
    try:
        with open_decompressed(raw) as stream:
            block = read_exactly(stream, tarfile.BLOCKSIZE)
        tarfile.TarInfo.frombuf(block, tarfile.ENCODING, "surrogateescape")
    except decode_errors():
        return False
    return True


def extract_archive(
    raw: BinaryIO,
    name: str,
    dest: Root,
    *,
    owner: tuple[int, int] | None = None,
    what: str = "ADD",
    max_bytes: int | None = None,
    devices: bool = True,
) -> None:
    """Unpack archive `raw` (named `what name` in messages) into the directory `dest`; `owner` overrides the
    archive's uid/gid. `max_bytes` bounds what it unpacks to (its tar stream, headers included); without
    `devices`, a device node in it is refused (a build context is unpacked on the host, not in a snapshot)."""
    dir_times: list[tuple[str, int]] = []
    shown = f"{what} {name}" if name else what
    try:
        with (
            open_decompressed(raw) as stream,
            tarfile.open(fileobj=_bounded(stream, max_bytes), mode="r|") as archive,
        ):
            for member in archive:
                if not devices and (member.ischr() or member.isblk()):
                    raise ArchiveError(f"entry {member.name!r} is a device node: refused")
                try:
                    _extract_member(archive, member, dest, owner, dir_times)
                except OSError as err:
                    raise ArchiveError(
                        f"cannot unpack entry {member.name!r}: {owner_error(member, err)}"
                    ) from err
    except ArchiveError as err:
        raise ArchiveError(f"{shown}: {err}") from err
    except decode_errors() as err:
        raise ArchiveError(f"{shown}: cannot unpack the archive: {err}") from err
    for directory, mtime in reversed(dir_times):
        with contextlib.suppress(OSError):  # a later entry replaced it
            fd = dest.open_dir(directory)
            try:
                os.utime(fd, ns=(mtime, mtime))
            finally:
                os.close(fd)


def _extract_member(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    dest: Root,
    owner: tuple[int, int] | None,
    dir_times: list[tuple[str, int]],
) -> None:
    name = _clean_name(member.name)
    if not name:
        return  # "./": the extraction dir itself keeps its metadata
    head, leaf = split_last(name)
    parent_fd = _make_parents(dest, head, member)
    try:
        existing = lstat_at(parent_fd, leaf)
        if existing is not None and not (member.isdir() and _is_dir_or_link_to_one(existing, dest, name)):
            remove_at(parent_fd, leaf)
        uid, gid = owner if owner is not None else entry_owner(member)
        mtime = mtime_ns(member)
        if member.isdir():
            fd = _make_dirs(dest, name, 0o700, member)
            try:
                _apply(member, fd, uid, gid, mtime)
            finally:
                os.close(fd)
            dir_times.append((name, mtime))
            return
        _create(archive, member, dest, parent_fd, leaf)
        _apply_at(member, parent_fd, leaf, uid, gid, mtime)
    finally:
        os.close(parent_fd)


def _create(archive: tarfile.TarFile, member: tarfile.TarInfo, dest: Root, parent_fd: int, leaf: str) -> None:
    if member.isreg():
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with open(os.open(leaf, flags, 0o600, dir_fd=parent_fd), "wb") as out:
            if member.sparse is not None:
                _write_sparse(archive, member, out)
                return
            source = archive.extractfile(member)
            assert source is not None  # a regular member always has content
            with source:
                shutil.copyfileobj(source, out, 1 << 20)
    elif member.issym():
        os.symlink(member.linkname, leaf, dir_fd=parent_fd)
    elif member.islnk():
        link_fd, link_name = _link_target(dest, member)
        try:
            os.link(link_name, leaf, src_dir_fd=link_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
        finally:
            os.close(link_fd)
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
        os.mknod(leaf, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent_fd)
    else:
        raise ArchiveError(f"archive entry {member.name!r}: unsupported type {member.type!r}")


def _write_sparse(archive: tarfile.TarFile, member: tarfile.TarInfo, out: BinaryIO) -> None:
    """A GNU sparse entry: its data regions (stored one after the other) at their offsets, holes left as
    holes. Read whole, a hole is zeros, and an entry of a few bytes may declare exabytes of them."""
    stream = archive.fileobj
    assert stream is not None
    stream.seek(member.offset_data)
    regions: list[tuple[int, int]] = member.sparse or []  # type: ignore[assignment]  # typeshed: int
    for offset, size in regions:
        out.seek(offset)
        while size > 0:
            chunk = stream.read(min(size, 1 << 20))
            if not chunk:
                raise ArchiveError(f"archive entry {member.name!r}: unexpected end of data")
            out.write(chunk)
            size -= len(chunk)
    out.truncate(member.size)  # a size past what the file system holds: EFBIG, an error


def _apply(member: tarfile.TarInfo, fd: int, uid: int, gid: int, mtime: int) -> None:
    """Owner, mode and xattrs of a directory open as `fd` (its times come last, from the caller)."""
    os.chown(fd, uid, gid)
    os.chmod(fd, stat.S_IMODE(member.mode))
    for name, value in requested_xattrs(member.pax_headers, member.name):
        set_xattr(fd, name, value, entry=member.name, archive="archive")


def _apply_at(member: tarfile.TarInfo, parent_fd: int, leaf: str, uid: int, gid: int, mtime: int) -> None:
    """Owner, mode, xattrs and times of the entry `leaf` just made in `parent_fd` (never followed)."""
    os.chown(leaf, uid, gid, dir_fd=parent_fd, follow_symlinks=False)
    if not member.issym():
        os.chmod(leaf, stat.S_IMODE(member.mode), dir_fd=parent_fd)  # just made here, not a symlink
        # setxattr has no dir_fd form: the entry is named through the verified parent's fd.
        for name, value in requested_xattrs(member.pax_headers, member.name):
            set_xattr(f"/proc/self/fd/{parent_fd}/{leaf}", name, value, entry=member.name, archive="archive")
    os.utime(leaf, ns=(mtime, mtime), dir_fd=parent_fd, follow_symlinks=False)


def _clean_name(name: str) -> str:
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise ArchiveError(f"archive path {name!r} is outside the extraction dir: refused")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _make_parents(dest: Root, head: str, member: tarfile.TarInfo) -> int:
    try:
        return dest.make_dirs(head, mode=0o755)
    except NotADirectoryError as err:
        raise ArchiveError(f"archive entry {member.name!r}: {err.strerror}") from err


def _make_dirs(dest: Root, name: str, mode: int, member: tarfile.TarInfo) -> int:
    try:
        return dest.make_dirs(name, mode=mode)
    except NotADirectoryError as err:
        raise ArchiveError(f"archive entry {member.name!r}: {err.strerror}") from err


def _link_target(dest: Root, member: tarfile.TarInfo) -> tuple[int, str]:
    name = _clean_name(member.linkname)
    if not name:
        raise ArchiveError(f"archive hard link {member.name!r} points at the extraction dir itself")
    try:
        parent_fd, leaf = dest.parent(name)
    except OSError:
        parent_fd, leaf = -1, ""
    if parent_fd < 0 or not leaf or lstat_at(parent_fd, leaf) is None:
        if parent_fd >= 0:
            os.close(parent_fd)
        raise ArchiveError(
            f"archive hard link {member.name!r}: {member.linkname!r} is not in the archive before it"
        )
    return parent_fd, leaf


def _is_dir_or_link_to_one(existing: os.stat_result, dest: Root, name: str) -> bool:
    # A symlink to a directory inside the root is entered, as in the chroot Docker untars in.
    return stat.S_ISDIR(existing.st_mode) or (stat.S_ISLNK(existing.st_mode) and dest.is_dir(name))


class _Capped:
    """A stream that refuses to yield more than `limit` bytes: a small archive may unpack to terabytes."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._left = limit
        self._limit = limit

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size if size >= 0 else self._left + 1)
        self._left -= len(data)
        if self._left < 0:
            raise ArchiveError(f"unpacks to more than {self._limit:,} bytes: refused")
        return data


def _bounded(stream: BinaryIO, limit: int | None) -> BinaryIO:
    """What tarfile reads: the stream with its end guarded, and capped at `limit` bytes if given."""
    guarded = end_guarded(stream)
    return guarded if limit is None else _Capped(guarded, limit)  # type: ignore[return-value]
