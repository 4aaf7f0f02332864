"""`slipway import`: a root file system tar (plain, gzip, zstd, bzip2 or xz) becomes a one-layer image.

The tar is unpacked with the shared unpacker (`unpack_layer`, whiteouts applied) into a work dir under the
store's tmp/, then packed again with `pack_layer`. Re-packing, rather than storing the tar as given (what
`docker import` does), costs one more pass but buys two things: one place decides what is safe in a tar
from outside (the unpacker refuses '../', absolute names, links out), and the layer is deterministic, so
the same tree gives the same diff_id whichever tool, order or user names made the tar.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import BinaryIO, cast

from slipway.errors import ArchiveError
from slipway.export.config_changes import apply_changes
from slipway.image.layers import Compression, LayerInfo, pack_layer, unpack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    ContainerConfig,
    Descriptor,
    History,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
    go_time,
    sha256_digest,
)
from slipway.image.platforms import host_platform, parse_platform
from slipway.image.reference import parse_reference
from slipway.image.sniffed import CHUNK, CorruptStream, GuardedReader, decompressed
from slipway.store import ImageRecord, Store, reporting_no_space

__all__ = ["ImportOptions", "import_rootfs"]


@dataclass(frozen=True, slots=True)
class ImportOptions:
    name: str | None = None  # "app:v1"; None leaves the image untagged
    changes: tuple[str, ...] = ()  # `--change` instructions, in order
    message: str | None = None  # the history comment; default "Imported from <source>"
    compression: Compression = "gzip"
    source_date_epoch: int | None = None  # created time and mtime clamp, for reproducible imports
    platform: str | None = None  # os/arch[/variant] the image is for; None: this machine's


def import_rootfs(store: Store, source: BinaryIO, source_name: str, options: ImportOptions) -> ImageRecord:
    """Import the rootfs tar read from `source` (named `source_name` in messages and history)."""
    config = apply_changes(ContainerConfig(), options.changes)  # a bad --change fails before any work
    names = [str(parse_reference(options.name))] if options.name else []
    with store.temp_dir("import") as work, reporting_no_space(store.root, f"importing {source_name}"):
        rootfs = work / "rootfs"
        rootfs.mkdir()
        try:
            with decompressed(source) as (_, stream):
                unpack_layer(
                    io.BufferedReader(GuardedReader(stream), CHUNK),
                    MEDIA_OCI_LAYER,
                    rootfs,
                    whiteouts="apply",
                )
        except CorruptStream as err:
            raise ArchiveError(
                f"{source_name}: the rootfs tar is truncated or corrupt ({err}); nothing was imported"
            ) from err
        # From the first blob to images.add, a concurrent gc() must not collect what is not an image yet.
        with store.lease():
            with store.blobs.ingest() as writer:
                layer = pack_layer(
                    rootfs,
                    cast(BinaryIO, writer),
                    compression=options.compression,
                    source_date_epoch=options.source_date_epoch,
                )
            store.images.record_layer(layer)
            return _add_image(store, layer, config, names, options, source_name)


def _add_image(
    store: Store,
    layer: LayerInfo,
    config: ContainerConfig,
    names: list[str],
    options: ImportOptions,
    source_name: str,
) -> ImageRecord:
    created = _timestamp(options.source_date_epoch)
    platform = parse_platform(options.platform) if options.platform else host_platform()
    image_config = ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant if platform.variant and platform.architecture != "amd64" else None,
        created=created,
        config=config,
        rootfs=RootFS(diff_ids=(layer.diff_id,)),
        history=(History(created=created, comment=options.message or f"Imported from {source_name}"),),
    )
    config_bytes = encode_json(image_config)
    store.blobs.put(config_bytes)
    manifest = Manifest(
        config=Descriptor(
            media_type=MEDIA_OCI_CONFIG, digest=sha256_digest(config_bytes), size=len(config_bytes)
        ),
        layers=(layer.descriptor,),
        media_type=MEDIA_OCI_MANIFEST,
    )
    return store.images.add(manifest, image_config, names)


def _timestamp(source_date_epoch: int | None) -> str:
    return go_time(source_date_epoch if source_date_epoch is not None else int(time.time()))
