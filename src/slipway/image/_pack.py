"""Walk a snapshot or overlay upper dir and write it as a deterministic tar stream.

Order is Go's filepath.WalkDir order (BuildKit's): depth first, the entries of a directory sorted by their
tar names as bytes, so the digest depends on the tree only, not on the file system's readdir order.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from slipway.errors import ArchiveError
from slipway.image import _tar
from slipway.image.oci import DiffID
from slipway.image.xattrs import overlay_opaque_xattr

WHITEOUT_PREFIX = b".wh."
OPAQUE_MARKER = b".wh..wh..opq"
# Overlay's own bookkeeping (origin, impure, redirect, nlink, opaque...), fuse-overlayfs' (whose upper dirs are
# put in the kernel overlay's form before they are committed: worker/_fuse_upper.py) and the host's SELinux
# labels are properties of this machine's file system, not of the image.
_DROPPED_XATTR_PREFIXES = (b"trusted.overlay.", b"user.overlay.", b"user.fuseoverlayfs.", b"security.selinux")


class TarStream:
    """The uncompressed tar bytes: gathered into fixed-size blocks, hashed (the diff_id), passed to `out`.

    File data is read straight into the block buffer, which is reused: `out` must copy what it keeps (the
    compressors do).
    """

    def __init__(self, out: BinaryIO, block_size: int) -> None:
        self._out = out
        self._buffer = bytearray(block_size)
        self._view = memoryview(self._buffer)
        self._used = 0
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            count = min(len(view), len(self._buffer) - self._used)
            self._view[self._used : self._used + count] = view[:count]
            self._used += count
            view = view[count:]
            if self._used == len(self._buffer):
                self._flush()

    def copy_file(self, fd: int, size: int, name: bytes) -> None:
        """Append `size` bytes read from `fd`, then the padding to a whole block."""
        remaining = size
        while remaining:
            room = len(self._buffer) - self._used
            count = os.readv(fd, [self._view[self._used : self._used + min(room, remaining)]])
            if count == 0:
                raise ArchiveError(
                    f"{name.decode(errors='replace')} shrank while it was packed ({size - remaining} of {size} "
                    "bytes read); nothing may write to a snapshot being packed"
                )
            self._used += count
            remaining -= count
            if self._used == len(self._buffer):
                self._flush()
        self.write(_tar.padding(size))

    def finish(self) -> DiffID:
        self.write(_tar.END_OF_ARCHIVE)
        self._flush()
        return DiffID("sha256:" + self._hash.hexdigest())

    def _flush(self) -> None:
        if not self._used:
            return
        block = self._view[: self._used]
        self._hash.update(block)
        self._out.write(block)
        self.size += self._used
        self._used = 0


class TreePacker:
    """Writes the entries under one directory (not the directory itself) into a TarStream."""

    def __init__(self, stream: TarStream, source_date_epoch: int | None) -> None:
        self._stream = stream
        self.content_size = 0  # the bytes of the regular files, each hard-linked file once (see LayerInfo)
        self._epoch = source_date_epoch
        self._links: dict[tuple[int, int], bytes] = {}
        self._opaque_xattr = overlay_opaque_xattr().encode()

    def pack(self, directory: bytes) -> None:
        self._pack_directory(directory, b"")

    def _pack_directory(self, path: bytes, prefix: bytes) -> None:
        try:
            with os.scandir(path) as entries:
                children = [(_tar_name(entry, info), entry.path, info) for entry, info in _stat_all(entries)]
        except OSError as err:
            raise _pack_error(path, err) from err
        children.sort(key=lambda child: child[0])
        for tar_name, child_path, info in children:
            try:
                self._pack_entry(child_path, prefix + tar_name, info)
            except OSError as err:
                raise _pack_error(child_path, err) from err

    def _pack_entry(self, path: bytes, name: bytes, info: os.stat_result) -> None:
        mode = info.st_mode
        mtime = self._mtime(info)
        if stat.S_ISREG(mode):
            self._pack_file(path, name, info, mtime)
        elif stat.S_ISDIR(mode):
            xattrs = _xattrs(path)
            is_opaque = xattrs.pop(self._opaque_xattr, None) == b"y"
            self._header(name + b"/", _tar.DIRECTORY, info, mtime, xattrs=_filtered(xattrs))
            if is_opaque:
                self._stream.write(_tar.encode_header(name + b"/" + OPAQUE_MARKER, _tar.REGULAR, mtime=mtime))
            self._pack_directory(path, name + b"/")
        elif stat.S_ISCHR(mode) and info.st_rdev == 0:
            self._stream.write(_tar.encode_header(name, _tar.REGULAR, mtime=mtime))  # name has .wh. already
        elif stat.S_ISLNK(mode):
            self._header(
                name, _tar.SYMLINK, info, mtime, linkname=os.readlink(path), xattrs=_filtered(_xattrs(path))
            )
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = _tar.CHAR_DEVICE if stat.S_ISCHR(mode) else _tar.BLOCK_DEVICE
            self._header(name, kind, info, mtime, device=info.st_rdev, xattrs=_filtered(_xattrs(path)))
        elif stat.S_ISFIFO(mode):
            self._header(name, _tar.FIFO, info, mtime, xattrs=_filtered(_xattrs(path)))
        # Sockets are skipped, as docker and BuildKit do: they cannot be recreated from a tar.

    def _pack_file(self, path: bytes, name: bytes, info: os.stat_result, mtime: int) -> None:
        if info.st_nlink > 1:
            key = (info.st_dev, info.st_ino)
            first = self._links.get(key)
            if first is not None:
                self._header(name, _tar.HARDLINK, info, mtime, linkname=first)
                return
            self._links[key] = name
        self.content_size += info.st_size
        # Non-blocking: what was a file when listed must not become a FIFO that stalls the pack.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            xattrs = _filtered(_xattrs(fd))
            self._header(name, _tar.REGULAR, info, mtime, size=info.st_size, xattrs=xattrs)
            self._stream.copy_file(fd, info.st_size, name)
        finally:
            os.close(fd)

    def _header(
        self,
        name: bytes,
        typeflag: bytes,
        info: os.stat_result,
        mtime: int,
        *,
        size: int = 0,
        linkname: bytes = b"",
        device: int = 0,
        xattrs: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self._stream.write(
            _tar.encode_header(
                name,
                typeflag,
                mode=info.st_mode,
                uid=info.st_uid,
                gid=info.st_gid,
                size=size,
                mtime=mtime,
                linkname=linkname,
                devmajor=os.major(device) if device else 0,
                devminor=os.minor(device) if device else 0,
                xattrs=xattrs,
            )
        )

    def _mtime(self, info: os.stat_result) -> int:
        mtime = info.st_mtime_ns // 1_000_000_000
        if self._epoch is not None and mtime > self._epoch:
            return self._epoch
        return mtime


def _stat_all(entries: Iterator[os.DirEntry[bytes]]) -> list[tuple[os.DirEntry[bytes], os.stat_result]]:
    return [(entry, entry.stat(follow_symlinks=False)) for entry in entries]


def _tar_name(entry: os.DirEntry[bytes], info: os.stat_result) -> bytes:
    """An overlay whiteout (a 0/0 character device) is written as the OCI whiteout ".wh.<name>"."""
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
        return WHITEOUT_PREFIX + entry.name
    return entry.name


def _xattrs(target: bytes | int) -> dict[bytes, bytes]:
    try:
        names = (
            os.listxattr(target, follow_symlinks=False) if isinstance(target, bytes) else os.listxattr(target)
        )
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    values: dict[bytes, bytes] = {}
    for name in names:
        key = name.encode("utf-8", "surrogateescape")
        try:
            if isinstance(target, bytes):
                values[key] = os.getxattr(target, name, follow_symlinks=False)
            else:
                values[key] = os.getxattr(target, name)
        except OSError as err:
            if err.errno != errno.ENODATA:  # removed since listxattr
                raise
    return values


def _filtered(xattrs: dict[bytes, bytes]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple(
        sorted((key, value) for key, value in xattrs.items() if not key.startswith(_DROPPED_XATTR_PREFIXES))
    )


def _pack_error(path: bytes, err: OSError) -> ArchiveError:
    return ArchiveError(f"cannot pack {path.decode(errors='replace')} into a layer: {err.strerror or err}")
