"""Layer tars: pack a directory into a deterministic (compressed) layer, unpack a layer into a directory.

Both directions stream: memory does not grow with the layer size, and the compressed digest and the diff_id
(the sha256 of the uncompressed tar) are computed on the fly.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple, cast

import msgspec

from slipway.errors import ArchiveError
from slipway.image._pack import TarStream, TreePacker
from slipway.image._streams import (
    TAR_READ_SIZE,
    DigestingReader,
    DigestingWriter,
    TarContentCounter,
    end_guarded,
)
from slipway.image._unpack import (
    OPAQUE_MARKER,
    WHITEOUT_PREFIX,
    Extractor,
    clean_name,
    entry_owner,
    members,
    mtime_ns,
    owner_error,
)
from slipway.image.compression import (
    CHUNK_SIZE,
    Compression,
    compressed_writer,
    decompressed_reader,
    media_type_of,
)
from slipway.image.oci import Descriptor, DiffID, Digest

__all__ = [
    "Compression", "EntryKind", "LayerEntry", "LayerInfo", "WhiteoutMode", "compress_layer", "entry_owner",
    "layer_entries", "measure_layer", "measure_tree", "mtime_ns", "owner_error", "pack_layer", "unpack_layer",
]  # fmt: skip

WhiteoutMode = Literal["overlay", "apply"]
# "whiteout": `path` is removed from the layers below; "opaque": the directory `path` hides what lies below it.
EntryKind = Literal["file", "dir", "symlink", "hardlink", "device", "fifo", "whiteout", "opaque"]


class LayerInfo(msgspec.Struct, frozen=True):
    diff_id: DiffID  # sha256 of the uncompressed tar
    descriptor: Descriptor  # the compressed blob: media type, digest, size
    uncompressed_size: int  # the tar's bytes
    # The bytes of its regular files, a hard-linked file once: what Docker's layer store counts, so the SIZE
    # of `slipway images` is the SIZE of `docker images` for the same content. None where unknown (a layer
    # described by a cache manifest): the tar size stands in.
    content_size: int | None = None

    @property
    def shown_size(self) -> int:
        return self.content_size if self.content_size is not None else self.uncompressed_size


def pack_layer(
    directory: Path,
    out: BinaryIO,
    *,
    compression: Compression = "gzip",
    source_date_epoch: int | None = None,
) -> LayerInfo:
    """Write `directory` (an unpacked snapshot or an overlay upper dir) to `out` as one layer blob.

    Deterministic: entries in path order, numeric owners only, no atime/ctime, mtimes clamped to
    `source_date_epoch` when set, gzip without name or mtime. Overlay whiteouts (0/0 character devices,
    opaque dirs) become OCI whiteouts; hardlinks within the layer become tar hardlinks; xattrs are kept.
    """
    if compression == "none":  # the blob is the tar: its digest is the diff_id, hashed once
        stream = TarStream(out, CHUNK_SIZE)
        packer = TreePacker(stream, source_date_epoch)
        packer.pack(os.fsencode(directory))
        diff_id = stream.finish()
        descriptor = Descriptor(media_type=media_type_of("none"), digest=Digest(diff_id), size=stream.size)
        return LayerInfo(diff_id, descriptor, stream.size, packer.content_size)
    digesting = DigestingWriter(out)
    with compressed_writer(compression, digesting) as compressed:  # type: ignore[arg-type]
        stream = TarStream(compressed, CHUNK_SIZE)
        packer = TreePacker(stream, source_date_epoch)
        packer.pack(os.fsencode(directory))
        diff_id = stream.finish()
    descriptor = Descriptor(
        media_type=media_type_of(compression), digest=digesting.digest, size=digesting.size
    )
    return LayerInfo(diff_id, descriptor, stream.size, packer.content_size)


def compress_layer(tar: BinaryIO, out: BinaryIO, info: LayerInfo, compression: Compression) -> LayerInfo:
    """The uncompressed layer `info` (read from `tar`) compressed into `out`: the same tar, the same diff_id."""
    digesting = DigestingWriter(out)
    with compressed_writer(compression, digesting) as compressed:  # type: ignore[arg-type]
        shutil.copyfileobj(tar, compressed, CHUNK_SIZE)
    descriptor = Descriptor(
        media_type=media_type_of(compression), digest=digesting.digest, size=digesting.size
    )
    return LayerInfo(info.diff_id, descriptor, info.uncompressed_size, info.content_size)


def measure_tree(directory: Path) -> LayerInfo:
    """The uncompressed layer `pack_layer(directory, compression="none")` would write, measured without
    writing it: its descriptor's digest is the diff_id. The store packs the blob from the directory when a
    reader first needs it, so a build never writes (or compresses) a layer nobody reads."""
    return pack_layer(directory, cast(BinaryIO, _Discard()), compression="none")


class _Discard:
    def write(self, data: bytes | memoryview) -> int:
        return len(data)


def unpack_layer(
    blob: BinaryIO,
    media_type: str,
    dest: Path,
    *,
    whiteouts: WhiteoutMode = "overlay",
) -> DiffID:
    """Apply one layer blob to `dest`; return the diff_id computed while reading it.

    "overlay": `dest` is a fresh snapshot dir; OCI whiteouts become overlay whiteouts.
    "apply": `dest` holds the layers below; whiteouts delete there.
    Untrusted input: any entry that would land outside `dest` is refused with ArchiveError, as is a truncated
    or corrupt stream.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with decompressed_reader(blob, media_type) as stream:
        reader = DigestingReader(stream)
        try:
            with (
                tarfile.open(
                    fileobj=end_guarded(reader),
                    mode="r|",
                    bufsize=TAR_READ_SIZE,
                    encoding="utf-8",
                    errors="surrogateescape",  # names and xattr values are bytes; keep them exactly
                ) as tar,
                Extractor(dest, whiteouts) as extractor,
            ):
                for member in members(tar):
                    extractor.add(member, tar)
                extractor.finish()
        except tarfile.TarError as err:
            raise ArchiveError(f"layer blob ({media_type}) is not a valid tar: {err}") from err
        reader.drain(CHUNK_SIZE)  # the diff_id covers the padding after the end-of-archive marker too
    return DiffID(reader.digest)


def measure_layer(
    blob: BinaryIO, media_type: str, *, decompress_ahead: bool = True
) -> tuple[DiffID, int, int]:
    """The diff_id, uncompressed size and content size (see LayerInfo) of a layer blob, read once;
    ArchiveError if it is truncated or corrupt. `decompress_ahead`: gzip in a thread of its own (not for a
    caller that runs beside other measures already: a pull's fetches, see tee.py)."""
    with decompressed_reader(blob, media_type, ahead=decompress_ahead) as stream:
        reader = DigestingReader(stream)
        counter = TarContentCounter()
        # Larger than the reader's own buffer: it reads straight into this one rather than copying.
        buffer = bytearray(2 * CHUNK_SIZE)
        while count := reader.readinto(buffer):
            counter.feed(memoryview(buffer)[:count])
    return DiffID(reader.digest), reader.size, counter.content_size


class LayerEntry(NamedTuple):
    """One entry of a layer tar, as a reader of the image sees it (a NamedTuple: images have 100,000s)."""

    path: str  # relative, cleaned ("usr/bin/go"); for whiteouts the path removed, for opaque the directory
    kind: EntryKind
    size: int  # the tar header's size: a regular file's bytes, 0 for the others
    mode: int  # permission bits
    uid: int
    gid: int
    link: str  # a symlink's target, or the path a hard link names


_KINDS: dict[bytes, EntryKind] = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file", tarfile.GNUTYPE_SPARSE: "file",
    tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "device",
    tarfile.BLKTYPE: "device", tarfile.FIFOTYPE: "fifo",
}  # fmt: skip


@contextmanager
def layer_entries(blob: BinaryIO, media_type: str) -> Iterator[Iterator[tuple[LayerEntry, BinaryIO | None]]]:
    """The entries of a layer blob in tar order, read as a stream (memory does not grow with the layer), each
    with a reader of a regular file's data that is valid until the next entry (None for other kinds).
    Names are cleaned as unpack_layer cleans them (ArchiveError for absolute or climbing ones, and for a
    truncated or corrupt stream); OCI whiteouts come as kind "whiteout"/"opaque" naming what they hide."""
    with decompressed_reader(blob, media_type) as stream:
        try:
            with tarfile.open(
                fileobj=end_guarded(stream),
                mode="r|",
                bufsize=TAR_READ_SIZE,
                encoding="utf-8",
                errors="surrogateescape",
            ) as tar:
                yield _entries(tar)
        except tarfile.TarError as err:
            raise ArchiveError(f"layer blob ({media_type}) is not a valid tar: {err}") from err


def _entries(tar: tarfile.TarFile) -> Iterator[tuple[LayerEntry, BinaryIO | None]]:
    for member in members(tar):
        path = clean_name(member.name)
        if not path:
            continue  # the layer's root directory itself
        parent, _, base = path.rpartition("/")
        mode, uid, gid = member.mode & 0o7777, member.uid, member.gid
        if base == OPAQUE_MARKER:
            yield LayerEntry(parent, "opaque", 0, mode, uid, gid, ""), None
        elif base.startswith(WHITEOUT_PREFIX):
            removed = (parent + "/" if parent else "") + base[len(WHITEOUT_PREFIX) :]
            yield LayerEntry(removed, "whiteout", 0, mode, uid, gid, ""), None
        else:
            kind = _KINDS.get(member.type)
            if kind is None:
                raise ArchiveError(f"layer entry {member.name!r} has unsupported tar type {member.type!r}")
            link = clean_name(member.linkname, link_of=member.name) if kind == "hardlink" else member.linkname
            entry = LayerEntry(path, kind, member.size if kind == "file" else 0, mode, uid, gid, link)
            yield entry, tar.extractfile(member) if kind == "file" else None  # type: ignore[misc]
