"""Images read from an archive, fully verified, waiting to enter the store; and their commit.

Readers (docker_archive, oci_layout) turn an ExtractedArchive into StagedImages and check everything on
the way: blob digests and sizes, JSON shapes, layer diff_ids against the config. Only when every image
of the archive has passed does `commit_images` touch the store, so a refused archive leaves it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from slipway.errors import ArchiveError, InvalidReference
from slipway.export._extraction import ArchiveFile, ExtractedArchive, normalize_name
from slipway.export._layer_check import LayerRefused
from slipway.image.layers import LayerInfo
from slipway.image.oci import (
    MEDIA_OCI_LAYER,
    MEDIA_OCI_LAYER_GZIP,
    MEDIA_OCI_LAYER_ZSTD,
    Descriptor,
    DiffID,
    Digest,
    ImageConfig,
    Manifest,
    decode_json,
)
from slipway.image.reference import parse_reference
from slipway.store import ImageRecord, Store

T = TypeVar("T")

MAX_DOCUMENT_SIZE = 16 << 20  # manifests, configs and indexes are kilobytes; refuse to decode a huge one
LAYER_MEDIA_TYPES = {"none": MEDIA_OCI_LAYER, "gzip": MEDIA_OCI_LAYER_GZIP, "zstd": MEDIA_OCI_LAYER_ZSTD}


@dataclass(frozen=True, slots=True)
class StagedLayer:
    file: ArchiveFile
    info: LayerInfo


@dataclass(frozen=True, slots=True)
class StagedImage:
    manifest: Manifest
    manifest_bytes: bytes
    manifest_digest: Digest
    config: ImageConfig
    config_bytes: bytes
    layers: tuple[StagedLayer, ...]
    names: tuple[str, ...]  # normalized references


@dataclass(frozen=True, slots=True)
class LoadedImage:
    image: ImageRecord
    names: tuple[str, ...]  # the names the archive gave it (normalized), empty for an untagged image


class Staging:
    """Checks for one archive (its files were measured as layers as they were extracted)."""

    def __init__(self, archive: ExtractedArchive) -> None:
        self.archive = archive

    def fail(self, message: str) -> ArchiveError:
        return ArchiveError(f"{self.archive.name}: {message}; nothing was loaded")

    def file(self, entry: str, what: str) -> ArchiveFile:
        found = self.archive.files.get(normalize_name(entry))
        if found is None:
            raise self.fail(f"{what} {entry!r} is missing from the archive")
        return found

    def document(self, entry: str, what: str, type_: type[T]) -> tuple[T, bytes]:
        found = self.file(entry, what)
        if found.size > MAX_DOCUMENT_SIZE:
            raise self.fail(f"{what} {entry!r} is {found.size} bytes, far more than a {what} can be")
        data = found.path.read_bytes()
        return self.decode(data, entry, what, type_), data

    def decode(self, data: bytes, entry: str, what: str, type_: type[T]) -> T:
        try:
            return decode_json(data, type_)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise self.fail(f"{what} {entry!r} is not valid JSON of the expected shape ({err})") from err

    def blob(self, digest: str, what: str, size: int | None = None) -> tuple[str, ArchiveFile]:
        """The blob `digest` of an OCI layout (blobs/<algorithm>/<hex>), its content checked."""
        algorithm, _, encoded = digest.partition(":")
        if algorithm != "sha256" or len(encoded) != 64 or not all(c in "0123456789abcdef" for c in encoded):
            raise self.fail(f"{what} has the digest {digest!r}; slipway reads sha256 digests only")
        entry = f"blobs/sha256/{encoded}"
        found = self.archive.files.get(entry)
        if found is None:
            raise self.fail(f"{what} {entry!r} is missing from the archive")
        self.check_content(entry, found, Digest(digest), what)
        if size is not None and found.size != size:
            raise self.fail(f"{what} {entry!r} is {found.size} bytes, its descriptor says {size}")
        return entry, found

    def check_content(self, entry: str, found: ArchiveFile, digest: Digest, what: str) -> None:
        if found.digest != digest:
            raise self.fail(
                f"{what} {entry!r} has the digest {found.digest}, not {digest} as its name or descriptor says"
            )

    def layer(
        self, entry: str, found: ArchiveFile, descriptor: Descriptor | None, diff_id: DiffID
    ) -> StagedLayer:
        """A layer file checked against the diff_id its image config gives."""
        facts = found.layer
        if isinstance(facts, LayerRefused):
            raise ArchiveError(f"{self.archive.name}: layer {entry!r}: {facts}; refusing the archive")
        if facts.diff_id != diff_id:
            raise self.fail(
                f"layer {entry!r} unpacks to diff_id {facts.diff_id}, but the image config says {diff_id}"
            )
        if descriptor is None:
            media_type = LAYER_MEDIA_TYPES.get(facts.compression)
            if media_type is None:
                raise self.fail(
                    f"layer {entry!r} is {facts.compression}-compressed; slipway takes gzip, zstd or plain tar"
                )
            descriptor = Descriptor(media_type=media_type, digest=found.digest, size=found.size)
        info = LayerInfo(facts.diff_id, descriptor, facts.uncompressed_size, facts.content_size)
        return StagedLayer(file=found, info=info)

    def names(self, texts: Sequence[str], what: str) -> tuple[str, ...]:
        normalized = []
        for text in texts:
            try:
                normalized.append(str(parse_reference(text)))
            except InvalidReference as err:
                raise self.fail(f"{what} {text!r} is not a valid image name ({err})") from err
        return tuple(dict.fromkeys(normalized))

    def check_diff_id_count(self, what: str, layer_count: int, config: ImageConfig) -> None:
        if layer_count != len(config.rootfs.diff_ids):
            raise self.fail(
                f"{what} lists {layer_count} layers but its config has {len(config.rootfs.diff_ids)} diff_ids"
            )


def commit_images(store: Store, images: Sequence[StagedImage]) -> list[LoadedImage]:
    """Move verified images into the store: their blobs in one batch (the layer files extracted into the
    store's tmp are moved, not copied; one sync for all), the original config and manifest bytes among them
    (so their digests stay), then the image records and names, with the layers as measured on extraction.
    The lease keeps a concurrent gc() off them."""
    loaded = []
    with store.lease():
        with store.blobs.batch() as batch:
            for image in images:
                for layer in image.layers:
                    if not store.blobs.has(layer.info.descriptor.digest):
                        batch.adopt(layer.file.path, layer.info.descriptor.digest)
                batch.put(image.config_bytes, expected=image.manifest.config.digest)
                batch.put(image.manifest_bytes, expected=image.manifest_digest)
        for image in images:
            record = store.images.add(
                image.manifest,
                image.config,
                image.names,
                manifest_digest=image.manifest_digest,
                measured=[layer.info for layer in image.layers],
            )
            loaded.append(LoadedImage(image=record, names=image.names))
    return loaded
