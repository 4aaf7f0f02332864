"""What the store hands out: images and snapshots as frozen values."""

from __future__ import annotations

from pathlib import Path

import msgspec

from slipway.image.oci import ChainID, DiffID, Digest, ImageConfig, Manifest

__all__ = ["CacheEntry", "ImageRecord", "SnapshotRecord"]


class ImageRecord(msgspec.Struct, frozen=True):
    id: Digest  # the config digest, as Docker's image ID
    manifest_digest: Digest
    manifest: Manifest
    config: ImageConfig
    names: tuple[str, ...]  # normalized references ("docker.io/library/golang:1.24"), sorted
    created: str  # from the config, RFC 3339 ("" when the config has none)
    size: int  # unpacked size: the sum of the layers' uncompressed sizes (what `docker images` shows)


class SnapshotRecord(msgspec.Struct, frozen=True):
    id: int  # short numeric id: overlay mount options are limited to one page
    parent: int | None
    path: Path  # <root>/snapshots/<id>/fs, the unpacked tree (an overlay lowerdir or upperdir)
    work: Path  # <root>/snapshots/<id>/work, overlay's workdir for when `path` is the upper dir
    chain_id: ChainID | None  # known once the snapshot's layer is known
    diff_id: DiffID | None
    committed: bool
    created: float = 0.0  # seconds since the epoch: when the step that made it ran (kept by cache hits)
    unpacked: bool = True  # False: `path` is not there yet, the layer blob is; Snapshots.unpacked() makes it


class CacheEntry(msgspec.Struct, frozen=True):
    key: str  # the step's cache key
    snapshot_id: int
    created: float  # seconds since the epoch
