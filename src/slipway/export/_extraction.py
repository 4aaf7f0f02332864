"""The outer tar of an image archive (docker save, OCI layout), read safely into a work directory.

The archive is untrusted: entry names are checked before anything is written, and nothing is written
under an entry's own name. Each regular file goes to a numbered file in the work directory, hashed as it
is copied and checked as a layer in a tap's thread at the same time (_layer_check.py: which files are layers
is known only once manifest.json or index.json is read, which may come last); the result maps normalized
entry names to those files. Symlinks and hardlinks (docker save links layers shared between images) are
resolved inside the archive, never on disk.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tarfile
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

from slipway.errors import ArchiveError
from slipway.export._layer_check import LayerFacts, LayerRefused, layer_facts
from slipway.image._streams import TAR_READ_SIZE, end_guarded
from slipway.image.oci import Digest
from slipway.image.sniffed import CorruptStream, GuardedReader, decompressed
from slipway.image.tap import tapped
from slipway.store import DirectFile

MAX_LINK_DEPTH = 40


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    path: Path  # where its bytes are, in the work directory
    digest: Digest  # sha256 of those bytes
    size: int
    layer: LayerFacts | LayerRefused  # what it is as a layer, or why it is none


@dataclass(frozen=True, slots=True)
class ExtractedArchive:
    name: str  # the archive as the user named it, for messages
    files: Mapping[str, ArchiveFile]  # normalized entry name -> its content, links resolved


def normalize_name(name: str) -> str:
    """'./a//b/' -> 'a/b'; '' for the archive root."""
    normal = posixpath.normpath(name or ".").lstrip("/")
    return "" if normal in ("", ".") else normal


def checked_name(archive: str, name: str) -> str:
    """The normalized entry name, or ArchiveError if it is absolute or climbs out of the archive."""
    if name.startswith("/"):
        raise ArchiveError(f"{archive}: entry {name!r} has an absolute name; refusing the archive")
    normal = normalize_name(name)
    if normal == ".." or normal.startswith("../"):
        raise ArchiveError(
            f"{archive}: entry {name!r} points outside the archive ('..'); refusing the archive"
        )
    return normal


class _Extractor:
    def __init__(self, archive: str, directory: Path) -> None:
        self.archive = archive
        self.directory = directory
        self.files: dict[str, ArchiveFile] = {}
        self.symlinks: dict[str, str] = {}  # entry -> target entry, normalized, inside the archive
        self.directories: set[str] = set()
        self.copied = 0

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = checked_name(self.archive, member.name)
        if not name:
            return
        # A later entry replaces an earlier one of the same name, as extracting the tar would.
        self.symlinks.pop(name, None)
        self.files.pop(name, None)
        if member.issparse():  # its holes read as zeros: a few bytes may declare exabytes of them
            raise ArchiveError(
                f"{self.archive}: entry {member.name!r} is a sparse file, which an image archive never holds; "
                "refusing the archive"
            )
        if member.isreg():
            self.files[name] = self._copy(tar, member)
        elif member.isdir():
            self.directories.add(name)
        elif member.issym():
            self.symlinks[name] = self._symlink_target(name, member.linkname)
        elif member.islnk():
            target = normalize_name(member.linkname)
            if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
                raise ArchiveError(
                    f"{self.archive}: entry {member.name!r} is a hard link to {member.linkname!r}, outside the "
                    "archive ('..' or an absolute path); refusing the archive"
                )
            if target not in self.files:
                raise ArchiveError(
                    f"{self.archive}: entry {member.name!r} is a hard link to {member.linkname!r}, "
                    "which is not a file earlier in the archive; refusing the archive"
                )
            self.files[name] = self.files[target]
        else:
            raise ArchiveError(
                f"{self.archive}: entry {member.name!r} is a device, fifo or other special file, "
                "which an image archive never holds; refusing the archive"
            )

    def _symlink_target(self, name: str, target: str) -> str:
        if target.startswith("/"):
            raise ArchiveError(
                f"{self.archive}: entry {name!r} is a symlink to the absolute path {target!r}; refusing the archive"
            )
        resolved = normalize_name(posixpath.join(posixpath.dirname(name), target))
        if resolved == ".." or resolved.startswith("../"):
            raise ArchiveError(
                f"{self.archive}: entry {name!r} is a symlink to {target!r}, outside the archive; refusing the archive"
            )
        return resolved

    def _copy(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> ArchiveFile:
        self.copied += 1
        path = self.directory / f"{self.copied:08d}"  # never the entry's own name: nothing to escape with
        digest = hashlib.sha256()
        size = 0
        source = tar.extractfile(member)
        assert source is not None  # a regular file always has a reader
        # The file may become a blob as it is (blob_batch.adopt), synced with the others: written as a batch
        # writes its blobs, past the page cache (store/direct.py).
        out = DirectFile(
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), member.size
        )
        with source, closing(out), tapped(layer_facts, name="slipway-layer-check") as tap:
            while chunk := source.read(TAR_READ_SIZE):
                digest.update(chunk)
                tap.write(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
        return ArchiveFile(
            path=path, digest=Digest("sha256:" + digest.hexdigest()), size=size, layer=tap.result
        )

    def finish(self) -> ExtractedArchive:
        self._refuse_paths_through_symlinks()
        files = dict(self.files)
        for name in self.symlinks:
            target = self._resolve(name)
            if target is not None and target in self.files:
                files[name] = self.files[target]
        return ExtractedArchive(name=self.archive, files=MappingProxyType(files))

    def _refuse_paths_through_symlinks(self) -> None:
        for name in [*self.files, *self.symlinks, *self.directories]:
            parent = posixpath.dirname(name)
            while parent:
                if parent in self.symlinks:
                    raise ArchiveError(
                        f"{self.archive}: entry {name!r} goes through the symlink {parent!r}; refusing the archive"
                    )
                parent = posixpath.dirname(parent)

    def _resolve(self, name: str) -> str | None:
        for _ in range(MAX_LINK_DEPTH):
            if name not in self.symlinks:
                return name
            name = self.symlinks[name]
        return None  # a loop: treated as missing


def extract_archive(source: BinaryIO, archive: str, directory: Path) -> ExtractedArchive:
    """Read the (possibly compressed) tar `source` into `directory`; ArchiveError on anything unsafe or broken."""
    extractor = _Extractor(archive, directory)
    try:
        with (
            decompressed(source) as (_, stream),
            tarfile.open(fileobj=end_guarded(GuardedReader(stream)), mode="r|", bufsize=TAR_READ_SIZE) as tar,
        ):
            for member in tar:
                extractor.add(tar, member)
    except (CorruptStream, tarfile.TarError) as err:
        raise ArchiveError(
            f"{archive}: the archive is truncated or corrupt ({err}); nothing was loaded"
        ) from err
    return extractor.finish()
