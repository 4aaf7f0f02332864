"""One pass over a layer blob from an archive: its diff_id, its uncompressed size, and a safety check.

`docker load` applies each layer as it loads it, so a layer that would escape its root fails there; slipway
unpacks later (on first use), so the check happens here instead: a malicious layer never enters the store.
The rules are the unpacker's (`slipway.image.layers.unpack_layer`): no absolute names, nothing climbing
out with '..', no hardlink to outside, no entry through a symlink the same layer made.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path

from slipway.errors import ArchiveError
from slipway.image._streams import DigestingReader
from slipway.image.oci import DiffID
from slipway.image.sniffed import (
    CHUNK,
    Compression,
    CorruptStream,
    GuardedReader,
    decompressed,
)


@dataclass(frozen=True, slots=True)
class LayerFacts:
    diff_id: DiffID
    uncompressed_size: int
    compression: Compression
    content_size: int  # the regular files' bytes (see LayerInfo)


def _escapes(name: str) -> bool:
    normal = posixpath.normpath(name)
    return name.startswith("/") or normal == ".." or normal.startswith("../")


class _EntryRules:
    def __init__(self, where: str) -> None:
        self.where = where
        self.symlinks: set[str] = set()

    def check(self, member: tarfile.TarInfo) -> None:
        name = member.name
        if name.startswith("/"):
            self._refuse(name, "has an absolute name")
        if _escapes(name):
            self._refuse(name, "climbs out of the layer root with '..'")
        normal = posixpath.normpath(name)
        parent = posixpath.dirname(normal)
        while parent not in ("", "."):
            if parent in self.symlinks:
                self._refuse(name, f"goes through the symlink {parent!r} made earlier in the same layer")
            parent = posixpath.dirname(parent)
        if member.islnk() and _escapes(member.linkname):
            self._refuse(name, f"is a hard link to {member.linkname!r}, outside the layer")
        if member.issym():
            self.symlinks.add(normal)
        else:
            self.symlinks.discard(normal)

    def _refuse(self, name: str, why: str) -> None:
        raise ArchiveError(f"{self.where}: entry {name!r} {why}; refusing the archive")


def check_layer(path: Path, where: str) -> LayerFacts:
    """Hash and check the layer blob at `path`; `where` names archive and entry in messages."""
    rules = _EntryRules(where)
    content_size = 0
    with open(path, "rb") as blob, decompressed(blob) as (compression, stream):
        hashing = DigestingReader(GuardedReader(stream))  # type: ignore[arg-type]
        try:
            with tarfile.open(fileobj=hashing, mode="r|") as tar:
                for member in tar:
                    rules.check(member)
                    if member.isreg():
                        content_size += member.size
            # tarfile stops at the end-of-archive blocks; the diff_id covers every byte after them too.
            while hashing.read(CHUNK):
                pass
        except (CorruptStream, tarfile.TarError) as err:
            raise ArchiveError(
                f"{where}: the layer is truncated or corrupt ({err}); refusing the archive"
            ) from err
    return LayerFacts(
        diff_id=DiffID(hashing.digest),
        uncompressed_size=hashing.size,
        compression=compression,
        content_size=content_size,
    )
