"""ADD of a local tar archive: detected by content, unpacked inside the extraction dir, never outside.

As BuildKit's applyRootArchive: names are cleaned ("../" that leaves the extraction dir is refused),
symlinks met on the way resolve inside the extraction dir, an entry replaces what is in its way,
ownership comes from the archive unless --chown says otherwise, dir times are set last.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from slipway.errors import ArchiveError
from slipway.image.layers import entry_owner, mtime_ns
from slipway.image.sniffed import DECOMPRESSION_ERRORS, decompressed
from slipway.worker.rootpath import resolve_in_root

__all__ = ["is_archive", "extract_archive", "open_decompressed"]

XATTR_PREFIX = "SCHILY.xattr."
DECODE_ERRORS: tuple[type[BaseException], ...] = (tarfile.TarError, ValueError, *DECOMPRESSION_ERRORS)


@contextlib.contextmanager
def open_decompressed(path: Path) -> Iterator[BinaryIO]:
    """`path` read through the decompressor its first bytes call for (gzip, bzip2, xz, zstd or none)."""
    with open(path, "rb") as raw, decompressed(raw) as (_, stream):
        yield stream


def is_archive(path: Path) -> bool:
    """Whether `path` is a tar archive, compressed or not: its first header block must check out."""
    try:
        with open_decompressed(path) as stream:
            block = _read_exactly(stream, tarfile.BLOCKSIZE)
        tarfile.TarInfo.frombuf(block, tarfile.ENCODING, "surrogateescape")
    except DECODE_ERRORS:
        return False
    return True


def extract_archive(path: Path, dest: Path, *, owner: tuple[int, int] | None = None) -> None:
    """Unpack archive `path` into the existing dir `dest`; `owner` overrides the archive's uid/gid."""
    dir_times: list[tuple[Path, int]] = []
    try:
        with open_decompressed(path) as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                _extract_member(archive, member, dest, owner, dir_times)
    except ArchiveError:
        raise
    except DECODE_ERRORS as err:
        raise ArchiveError(f"ADD {path.name}: cannot unpack the archive: {err}") from err
    for directory, mtime in reversed(dir_times):
        os.utime(directory, ns=(mtime, mtime), follow_symlinks=False)


def _extract_member(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    dest: Path,
    owner: tuple[int, int] | None,
    dir_times: list[tuple[Path, int]],
) -> None:
    name = _clean_name(member.name)
    if not name:
        return  # "./": the extraction dir itself keeps its metadata
    target = _target(dest, name, follow_leaf=member.isdir())
    _make_parents(dest, target)
    if os.path.lexists(target) and not (
        member.isdir() and os.path.isdir(target) and not os.path.islink(target)
    ):
        _remove(target)
    uid, gid = owner if owner is not None else entry_owner(member)
    mtime = mtime_ns(member)
    if member.isdir():
        if not os.path.lexists(target):
            os.mkdir(target, 0o700)
        dir_times.append((target, mtime))
    elif member.isreg():
        source = archive.extractfile(member)
        assert source is not None  # a regular member always has content
        with source, open(target, "xb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    elif member.issym():
        os.symlink(member.linkname, target)
    elif member.islnk():
        linked = _link_target(dest, member)
        os.link(linked, target)
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
        os.mknod(target, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    else:
        raise ArchiveError(f"archive entry {member.name!r}: unsupported type {member.type!r}")
    _apply(member, target, uid, gid, mtime)


def _apply(member: tarfile.TarInfo, target: Path, uid: int, gid: int, mtime: int) -> None:
    os.chown(target, uid, gid, follow_symlinks=False)
    if member.issym():
        os.utime(target, ns=(mtime, mtime), follow_symlinks=False)
        return
    os.chmod(target, stat.S_IMODE(member.mode))
    for key, value in member.pax_headers.items():
        if key.startswith(XATTR_PREFIX):
            with contextlib.suppress(OSError):
                os.setxattr(target, key[len(XATTR_PREFIX) :], value.encode("utf-8", "surrogateescape"))
    if not member.isdir():
        os.utime(target, ns=(mtime, mtime), follow_symlinks=False)


def _clean_name(name: str) -> str:
    cleaned = posixpath.normpath(name.lstrip("/"))
    if cleaned in (".", ""):
        return ""
    if cleaned == ".." or cleaned.startswith("../"):
        raise ArchiveError(f"archive path {name!r} is outside the extraction dir: refused")
    return cleaned


def _target(dest: Path, name: str, *, follow_leaf: bool) -> Path:
    if follow_leaf:
        return resolve_in_root(dest, name)
    parent, leaf = posixpath.split(name)
    return resolve_in_root(dest, parent) / leaf


def _link_target(dest: Path, member: tarfile.TarInfo) -> Path:
    name = _clean_name(member.linkname)
    if not name:
        raise ArchiveError(f"archive hard link {member.name!r} points at the extraction dir itself")
    linked = _target(dest, name, follow_leaf=False)
    if not os.path.lexists(linked):
        raise ArchiveError(
            f"archive hard link {member.name!r}: {member.linkname!r} is not in the archive before it"
        )
    return linked


def _make_parents(dest: Path, target: Path) -> None:
    missing = []
    probe = target.parent
    while probe != dest and not os.path.lexists(probe):
        missing.append(probe)
        probe = probe.parent
    if not os.path.isdir(probe) or os.path.islink(probe):
        raise ArchiveError(
            f"archive entry {target.relative_to(dest)}: /{probe.relative_to(dest)} is not a directory"
        )
    for directory in reversed(missing):
        os.mkdir(directory, 0o755)


def _remove(path: Path) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data
