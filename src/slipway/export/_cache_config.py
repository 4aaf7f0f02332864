"""The build cache's config in BuildKit's format (`application/vnd.buildkit.cacheconfig.v0`,
cache/remotecache/v1/types in moby/buildkit): a table of layer blobs, each naming its parent, and records, each
a cache key whose result is one of those layers with all its parents.

slipway's cache keys are its own, so BuildKit finds no hits in a slipway cache (nor slipway in BuildKit's), but
each reads the other's document. What BuildKit's layer annotations do not hold (the uncompressed size) rides in
extra fields, which BuildKit's decoder ignores.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from slipway.errors import ArchiveError
from slipway.image.layers import LayerInfo
from slipway.image.oci import Descriptor, DiffID, Digest, decode_json, encode_json, go_time

__all__ = [
    "MEDIA_CACHE_CONFIG",
    "ChainRecord",
    "decode_config",
    "decode_inline",
    "encode_config",
    "encode_inline",
]

MEDIA_CACHE_CONFIG = "application/vnd.buildkit.cacheconfig.v0"
_NO_PARENT = -1
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Go writes for a time it does not know
_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """One cache record: a step's key, its snapshot's layers (bottom first), when the step ran."""

    key: str
    layers: tuple[LayerInfo, ...]
    created: float | None = None


class _Annotations(msgspec.Struct, frozen=True, omit_defaults=True):
    media_type: str = msgspec.field(default="", name="mediaType")
    diff_id: str = msgspec.field(default="", name="diffID")
    size: int = 0  # the blob's
    created_at: str = msgspec.field(default=_GO_ZERO_TIME, name="createdAt")
    uncompressed_size: int = msgspec.field(default=0, name="uncompressedSize")  # slipway's
    content_size: int | None = msgspec.field(default=None, name="contentSize")  # slipway's (LayerInfo)


class _Layer(msgspec.Struct, frozen=True):
    blob: Digest
    parent: int = 0  # Go omits 0; -1 is no parent
    annotations: _Annotations | None = None


class _Result(msgspec.Struct, frozen=True):
    layer: int
    created_at: str = msgspec.field(default=_GO_ZERO_TIME, name="createdAt")


class _Record(msgspec.Struct, frozen=True, omit_defaults=True):
    digest: str = ""
    layers: tuple[_Result, ...] = ()  # BuildKit's "results"; its "chains" and "inputs" are not slipway's


class _Config(msgspec.Struct, frozen=True, omit_defaults=True):
    layers: tuple[_Layer, ...] = ()
    records: tuple[_Record, ...] = ()


def encode_config(records: Sequence[ChainRecord]) -> bytes:
    """The config of `records`, in their order; layers shared by chains are listed once."""
    layers: list[_Layer] = []
    index: dict[tuple[Digest, int], int] = {}  # (blob, parent index) -> its index
    encoded = []
    for record in records:
        position = _NO_PARENT
        for info in record.layers:
            node = (info.descriptor.digest, position)
            if node not in index:
                index[node] = len(layers)
                layers.append(_Layer(info.descriptor.digest, position, _annotations(info)))
            position = index[node]
        encoded.append(_Record(digest=record.key, layers=(_Result(position, _format_time(record.created)),)))
    return encode_json(_Config(layers=tuple(layers), records=tuple(encoded)))


def decode_config(data: bytes, descriptors: Mapping[Digest, Descriptor], where: str) -> list[ChainRecord]:
    """The records of a config whose blobs are `descriptors` (the manifest's layers). ArchiveError if it is
    not one, or names a blob the manifest does not hold, or a chain that does not end."""
    try:
        config = decode_json(data, _Config)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ArchiveError(f"{where}: the cache config is not valid: {err}") from err
    layers = [_layer_info(layer, descriptors, where) for layer in config.layers]
    records = []
    for record in config.records:
        for result in record.layers:
            chain = _chain(config.layers, result.layer, where)
            records.append(
                ChainRecord(record.digest, tuple(layers[i] for i in chain), _parse_time(result.created_at))
            )
    return records


def encode_inline(records: Sequence[ChainRecord]) -> str:
    """The inline cache of an image's config (its "moby.buildkit.cache.v0"): the records' config, base64."""
    return base64.b64encode(encode_config(records)).decode()


def decode_inline(
    value: str, layers: Sequence[Descriptor], diff_ids: Sequence[DiffID], where: str
) -> list[ChainRecord]:
    """The records of an image's inline cache. Its layers are found in the image by diff ID, not by blob: the
    image may have been pushed with its layers compressed after the config was written. A record whose layers
    the image does not hold is left out (an image made FROM another that carried one, by another builder)."""
    try:
        config = decode_json(base64.b64decode(value, validate=True), _Config)
    except (ValueError, msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ArchiveError(f"{where}: the image's inline cache is not valid: {err}") from err
    in_image = dict(zip(diff_ids, layers, strict=False))
    found = [in_image.get(DiffID((layer.annotations or _Annotations()).diff_id)) for layer in config.layers]
    records = []
    for record in config.records:
        for result in record.layers:
            try:
                chain = _chain(config.layers, result.layer, where)
            except ArchiveError:
                continue
            if not chain or any(found[index] is None for index in chain):
                continue
            infos = tuple(
                _layer_info(config.layers[index], {config.layers[index].blob: found[index]}, where)  # type: ignore[dict-item]
                for index in chain
            )
            records.append(ChainRecord(record.digest, infos, _parse_time(result.created_at)))
    return records


def _annotations(info: LayerInfo) -> _Annotations:
    return _Annotations(
        media_type=info.descriptor.media_type,
        diff_id=info.diff_id,
        size=info.descriptor.size,
        uncompressed_size=info.uncompressed_size,
        content_size=info.content_size,
    )


def _layer_info(layer: _Layer, descriptors: Mapping[Digest, Descriptor], where: str) -> LayerInfo:
    descriptor = descriptors.get(layer.blob)
    if descriptor is None:
        raise ArchiveError(f"{where}: the cache config lists layer {layer.blob}, the manifest does not")
    annotations = layer.annotations or _Annotations()
    diff_id = (descriptor.annotations or {}).get("containerd.io/uncompressed") or annotations.diff_id
    if not diff_id:
        raise ArchiveError(f"{where}: the cache does not say what layer {layer.blob} holds (no diffID)")
    return LayerInfo(DiffID(diff_id), descriptor, annotations.uncompressed_size, annotations.content_size)


def _chain(layers: Sequence[_Layer], top: int, where: str) -> list[int]:
    """The indexes from the bottom layer up to `top`; a parent out of range or a loop is an error."""
    chain: list[int] = []
    position = top
    while position != _NO_PARENT:
        if not 0 <= position < len(layers) or len(chain) > len(layers):
            raise ArchiveError(f"{where}: the cache config's layer {top} has no bottom (parent {position})")
        chain.append(position)
        position = layers[position].parent
    return chain[::-1]


def _format_time(seconds: float | None) -> str:
    """Go's RFC 3339 (nanoseconds trimmed as Go trims them; microseconds here)."""
    return _GO_ZERO_TIME if seconds is None else go_time(seconds)


def _parse_time(text: str) -> float | None:
    match = _TIME.fullmatch(text)
    if match is None or text == _GO_ZERO_TIME:
        return None
    fraction = (match[2] or ".0")[:7]  # Python reads microseconds; Go may write nanoseconds
    zone = "+00:00" if match[3] == "Z" else match[3]
    try:
        return datetime.fromisoformat(f"{match[1]}{fraction}{zone}").timestamp()
    except ValueError:
        return None
