"""Turn a solved stage into an image in the store: layers, config with history, manifest.

Layers are packed lazily: a snapshot gets its layer blob the first time an image needs it, so the snapshots
of a build stage that only feeds `COPY --from` are never tarred or compressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Literal, cast

import msgspec

from slipway.graph.ops import StagePlan
from slipway.image.layers import LayerInfo, pack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    DiffID,
    History,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
)
from slipway.store import ImageRecord, SnapshotRecord, Store

Compression = Literal["gzip", "zstd", "none"]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    compression: Compression = "gzip"
    source_date_epoch: int | None = None


def ensure_layer(store: Store, snapshot: SnapshotRecord, options: ExportOptions) -> LayerInfo:
    """The layer blob of one snapshot, packed now if no image needed it before."""
    if snapshot.diff_id is not None:
        known = store.layer_by_diff_id(snapshot.diff_id)
        if known is not None and store.has_blob(known.descriptor.digest):
            return known
    with store.ingest() as writer:
        info = pack_layer(
            snapshot.path,
            cast(BinaryIO, writer),
            compression=options.compression,
            source_date_epoch=options.source_date_epoch,
        )
    store.record_layer(info)
    store.set_snapshot_layer(snapshot.id, info)
    return info


def image_layers(store: Store, snapshot: SnapshotRecord | None, options: ExportOptions) -> list[LayerInfo]:
    if snapshot is None:
        return []
    return [ensure_layer(store, record, options) for record in store.snapshot_chain(snapshot.id)]


def export_image(
    store: Store,
    stage: StagePlan,
    snapshot: SnapshotRecord | None,
    names: Sequence[str],
    options: ExportOptions,
) -> ImageRecord:
    # From the first layer blob to add_image, a concurrent gc() must not collect what is not an image yet.
    with store.lease():
        manifest, config, _ = compose_manifest(store, stage, snapshot, options)
        return store.add_image(manifest, config, names)


def compose_manifest(
    store: Store, stage: StagePlan, snapshot: SnapshotRecord | None, options: ExportOptions
) -> tuple[Manifest, ImageConfig, list[LayerInfo]]:
    """The image's layers (packed as needed) and config blob in the store, and the manifest naming them."""
    layers = image_layers(store, snapshot, options)
    config = image_config(stage, [layer.diff_id for layer in layers], _created(store, snapshot, options))
    config_bytes = encode_json(config)
    config_digest = store.put_blob(config_bytes)
    manifest = Manifest(
        config=Descriptor(media_type=MEDIA_OCI_CONFIG, digest=config_digest, size=len(config_bytes)),
        layers=tuple(layer.descriptor for layer in layers),
        media_type=MEDIA_OCI_MANIFEST,
    )
    return manifest, config, layers


def _created(store: Store, snapshot: SnapshotRecord | None, options: ExportOptions) -> int:
    """SOURCE_DATE_EPOCH, else when the newest step of the image ran: a fully cached rebuild then gives the
    same image ID, as BuildKit's does."""
    if options.source_date_epoch is not None:
        return options.source_date_epoch
    if snapshot is None:
        return 0
    return int(max(record.created for record in store.snapshot_chain(snapshot.id)))


def image_config(stage: StagePlan, diff_ids: list[DiffID], created_at: int) -> ImageConfig:
    created = _timestamp(created_at)
    history = tuple(
        entry if entry.created is not None else msgspec.structs.replace(entry, created=created)
        for entry in stage.history
    )
    return msgspec.structs.replace(
        stage.config, created=created, rootfs=RootFS(diff_ids=tuple(diff_ids)), history=_fit_history(history, len(diff_ids))
    )


def _fit_history(history: tuple[History, ...], layer_count: int) -> tuple[History, ...]:
    """Keep history consistent with the layers: tools (docker history, skopeo) pair non-empty entries with layers."""
    non_empty = sum(1 for entry in history if not entry.empty_layer)
    if non_empty == layer_count:
        return history
    if non_empty > layer_count:
        # Base images without history for some layers: drop the oldest non-empty entries that have no layer.
        surplus = non_empty - layer_count
        fitted = []
        for entry in history:
            if surplus and not entry.empty_layer:
                surplus -= 1
                continue
            fitted.append(entry)
        return tuple(fitted)
    missing = layer_count - non_empty
    filler = tuple(History(created_by="(layer without history)") for _ in range(missing))
    return filler + history


def _timestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
