"""One pass over a layer blob from an archive: its diff_id, its uncompressed size, and a safety check.

`docker load` applies each layer as it loads it, so a layer that would escape its root fails there; slipway
unpacks later (on first use), so the check happens here instead: a malicious layer never enters the store.
The rules are the unpacker's (`slipway.image.layers.unpack_layer`): no absolute names, nothing climbing
out with '..', no hardlink to outside, no entry through a symlink the same layer made.

The check reads a stream: the archive's reader runs it on every file as it extracts it (a tap, so the
bytes pass once), before it knows which files are layers; a file that is none (a config) gets the reason.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from slipway.image._streams import TAR_READ_SIZE, DigestingReader, end_guarded
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


class LayerRefused(Exception):  # noqa: N818 - a verdict, turned into ArchiveError where the entry is known
    """Why a file is not a layer slipway takes: "entry 'x' has an absolute name", "the layer is truncated..."."""


class _EntryRules:
    def __init__(self) -> None:
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
        raise LayerRefused(f"entry {name!r} {why}")


def layer_facts(blob: BinaryIO) -> LayerFacts | LayerRefused:
    """Hash and check the layer blob read from `blob` (to its end); why it is refused, if it is."""
    rules = _EntryRules()
    content_size = 0
    try:
        with decompressed(blob) as (compression, stream):
            hashing = DigestingReader(GuardedReader(stream))  # type: ignore[arg-type]
            with tarfile.open(fileobj=end_guarded(hashing), mode="r|", bufsize=TAR_READ_SIZE) as tar:
                for member in tar:
                    rules.check(member)
                    if member.isreg():
                        content_size += member.size
            # tarfile stops at the end-of-archive blocks; the diff_id covers every byte after them too.
            while hashing.read(CHUNK):
                pass
    except (CorruptStream, tarfile.TarError) as err:
        return LayerRefused(f"the layer is truncated or corrupt ({err})")
    except LayerRefused as refused:
        return refused
    return LayerFacts(
        diff_id=DiffID(hashing.digest),
        uncompressed_size=hashing.size,
        compression=compression,
        content_size=content_size,
    )
