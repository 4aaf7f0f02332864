"""Helpers for layer tests: describe a tree as a user would compare it, and write tars by hand."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

XATTRS_COMPARED = ("security.capability", "user.", "trusted.overlay.opaque")


def describe(root: Path, *, with_owner: bool = True) -> dict[str, tuple[object, ...]]:
    """path -> (kind, mode, [uid, gid,] size, content sha256 or link target or device, mtime, xattrs)."""
    listing: dict[str, tuple[object, ...]] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(directory) / name
            info = path.lstat()
            kind = stat.S_IFMT(info.st_mode)
            if stat.S_ISREG(info.st_mode):
                detail: object = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                detail = (os.major(info.st_rdev), os.minor(info.st_rdev))
            else:
                detail = None
            owner = (info.st_uid, info.st_gid) if with_owner else ()
            size = info.st_size if not stat.S_ISDIR(info.st_mode) else 0
            listing[str(path.relative_to(root))] = (
                kind,
                stat.S_IMODE(info.st_mode),
                *owner,
                size,
                detail,
                int(info.st_mtime),
                xattrs_of(path),
            )
    return listing


def xattrs_of(path: Path) -> tuple[tuple[str, bytes], ...]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    return tuple(
        sorted(
            (name, os.getxattr(path, name, follow_symlinks=False))
            for name in names
            if name.startswith(XATTRS_COMPARED)
        )
    )


@dataclass
class TarBuilder:
    """A tar written entry by entry, for layers the packer would never write (whiteouts, attacks)."""

    buffer: io.BytesIO = field(default_factory=io.BytesIO)

    def __post_init__(self) -> None:
        self.tar = tarfile.open(fileobj=self.buffer, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115  # closed by bytes()

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, mtime: int = 1_600_000_000) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, mtime
        self.tar.addfile(info, io.BytesIO(data))
        return self

    def directory(self, name: str, mode: int = 0o755) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, mode
        self.tar.addfile(info)
        return self

    def symlink(self, name: str, target: str) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        self.tar.addfile(info)
        return self

    def hardlink(self, name: str, target: str) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.LNKTYPE, target
        self.tar.addfile(info)
        return self

    def bytes(self) -> bytes:
        self.tar.close()
        return self.buffer.getvalue()
