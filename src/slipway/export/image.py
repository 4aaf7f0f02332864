"""Turn a solved stage into an image in the store: layers, config with history, manifest.

Layers are packed lazily: a snapshot gets its layer the first time an image needs it, so the snapshots of a
build stage that only feeds `COPY --from` are never tarred. An image kept in the store (compression None, the
default) only measures its new layers and defers their blobs (see store/packed.py); they are compressed when the image
leaves the machine (`distributable`, for push and cache export), as `docker push` compresses Docker's layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO, cast

import msgspec

from slipway.choices import Compression
from slipway.errors import StoreError
from slipway.graph.ops import StagePlan
from slipway.image.layers import LayerInfo, compress_layer, measure_tree, pack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    DiffID,
    History,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    RootFS,
    encode_json,
    go_time,
    sha256_digest,
)
from slipway.store import ImageRecord, SnapshotRecord, Store

if TYPE_CHECKING:
    from slipway.export._cache_config import ChainRecord


class ExportOptions(msgspec.Struct, frozen=True):
    compression: Compression | None = None  # None: deferred, uncompressed layers for the local store
    source_date_epoch: int | None = None  # the image's created time, and its new history entries'
    # BuildKit's rewrite-timestamp: the file times of the layers built here (not the base image's) clamped to
    # the epoch, each such layer a blob of its own (the snapshot's layer stays as it was built).
    rewrite_timestamp: bool = False
    # SOURCE_DATE_EPOCH from the environment (slipway's reproducible builds): a snapshot's own layer, when it
    # is first packed, has its file times clamped to it, so images and exported caches share those blobs.
    layer_epoch: int | None = None
    annotations: tuple[tuple[str, str], ...] = ()  # --annotation: the manifest's
    # --cache-to type=inline: (cache key, snapshot id) of the build's steps; an image's config holds those of
    # its own layers (each platform's image its own).
    inline_cache: tuple[tuple[str, int], ...] = ()

    def for_distribution(self) -> ExportOptions:
        """For what leaves the machine (archives, registries): gzip unless a compression was asked for."""
        return self if self.compression is not None else msgspec.structs.replace(self, compression="gzip")

    @property
    def clamp(self) -> int | None:
        """The time layer files are clamped to, if they are."""
        return self.source_date_epoch if self.rewrite_timestamp else None


def ensure_layer(store: Store, snapshot: SnapshotRecord, options: ExportOptions) -> LayerInfo:
    """The layer of one snapshot, measured or packed now if no image needed it before."""
    if snapshot.diff_id is not None:
        known = store.images.layers(snapshot.diff_id)
        compressed = _compressed(known)
        preferred = compressed if options.compression is not None else known
        if preferred:
            return preferred[0]
        as_stored = [info for info in known if store.blobs.deferred(info.descriptor.digest) is None]
        if as_stored and options.compression is not None:
            # A layer that came as a blob (a base image's): compressed as it is, so its diff_id stays; its
            # tree packed again would be other bytes (another tar's order), another diff_id.
            return _compress_blob(store, as_stored[0], options.compression)
    if options.compression is None and options.layer_epoch is None and snapshot.committed:
        info = measure_tree(
            store.snapshots.unpacked(snapshot.id).path if not snapshot.unpacked else snapshot.path
        )
        store.snapshots.set_layer(snapshot.id, info, deferred=True)
        return info
    info = _pack(store, snapshot, options.compression or "gzip", options.layer_epoch)
    store.snapshots.set_layer(snapshot.id, info)
    return info


def _compressed(layers: list[LayerInfo]) -> list[LayerInfo]:
    return [info for info in layers if info.descriptor.media_type != MEDIA_OCI_LAYER]


def _compress_blob(store: Store, info: LayerInfo, compression: Compression) -> LayerInfo:
    source = info.descriptor
    with store.blobs.stream(source.digest, source.size) as tar, store.blobs.ingest() as writer:
        compressed = compress_layer(tar, cast(BinaryIO, writer), info, compression)
    store.images.record_layer(compressed)
    return compressed


def _pack(store: Store, snapshot: SnapshotRecord, compression: Compression, clamp: int | None) -> LayerInfo:
    if not snapshot.unpacked:  # an imported cache's step whose layer is wanted in another form
        snapshot = store.snapshots.unpacked(snapshot.id)
    with store.blobs.ingest() as writer:
        info = pack_layer(
            snapshot.path, cast(BinaryIO, writer), compression=compression, source_date_epoch=clamp
        )
    store.images.record_layer(info)
    return info


def distributable(store: Store, image: ImageRecord, compression: Compression = "gzip") -> ImageRecord:
    """`image` with its deferred (uncompressed, built here) layers compressed, for a push or a cache export.

    The image keeps its ID (the config does not change); the store's record moves to the compressed
    manifest, so the next push reuses the blobs. Images without deferred layers come back as they are."""
    layers = list(image.manifest.layers)
    changed = False
    with store.lease():
        for index, (layer, diff_id) in enumerate(zip(layers, image.config.rootfs.diff_ids, strict=True)):
            source = store.blobs.deferred(layer.digest) if layer.media_type == MEDIA_OCI_LAYER else None
            if source is None:
                continue
            known = _compressed(store.images.layers(diff_id))
            if known:
                layers[index] = known[0].descriptor
            else:
                with store.blobs.ingest() as writer:
                    info = pack_layer(source.path, cast(BinaryIO, writer), compression=compression)
                if info.diff_id != diff_id:
                    raise StoreError(
                        f"layer {diff_id}: snapshot {source.id} now packs to {info.diff_id}; something changed "
                        "it after it was built; `slipway builder prune -a` and build again"
                    )
                store.images.record_layer(info)
                layers[index] = info.descriptor
            changed = True
        if not changed:
            return image
        manifest = msgspec.structs.replace(image.manifest, layers=tuple(layers))
        return store.images.add(manifest, image.config)


def image_layers(
    store: Store, snapshot: SnapshotRecord | None, options: ExportOptions, image_layers: int = 0
) -> list[LayerInfo]:
    """The layers of the chain ending at `snapshot`; the first `image_layers` are the base image's, which a
    timestamp rewrite leaves as they are (as BuildKit leaves the base image's diff IDs)."""
    if snapshot is None:
        return []
    clamp = options.clamp
    return [
        ensure_layer(store, record, options)
        if clamp is None or index < image_layers
        else _pack(store, record, options.compression or "gzip", clamp)
        for index, record in enumerate(store.snapshots.chain(snapshot.id))
    ]


def export_image(
    store: Store,
    stage: StagePlan,
    snapshot: SnapshotRecord | None,
    names: Sequence[str],
    options: ExportOptions,
) -> ImageRecord:
    # From the first layer blob to images.add, a concurrent gc() must not collect what is not an image yet.
    with store.lease():
        manifest, config, _ = compose_manifest(store, stage, snapshot, options)
        # A build's result is all its names hold: no image of another platform from an earlier build stays.
        return store.images.add(manifest, config, names, replace_platforms=True)


def compose_manifest(
    store: Store, stage: StagePlan, snapshot: SnapshotRecord | None, options: ExportOptions
) -> tuple[Manifest, ImageConfig, list[LayerInfo]]:
    """The image's layers (packed as needed) and config blob in the store, and the manifest naming them."""
    layers = image_layers(store, snapshot, options, stage.image_layers)
    config = image_config(
        stage, [layer.diff_id for layer in layers], _created(store, snapshot, options, stage.image_layers)
    )
    if options.inline_cache and snapshot is not None:
        from slipway.export._cache_config import encode_inline  # --cache-to type=inline only

        records = _inline_records(store.snapshots.chain(snapshot.id), layers, options.inline_cache)
        config = msgspec.structs.replace(config, inline_cache=encode_inline(records) if records else None)
    config_bytes = encode_json(config)
    config_digest = store.blobs.put(config_bytes)
    manifest = Manifest(
        config=Descriptor(media_type=MEDIA_OCI_CONFIG, digest=config_digest, size=len(config_bytes)),
        layers=tuple(layer.descriptor for layer in layers),
        media_type=MEDIA_OCI_MANIFEST,
        annotations=dict(options.annotations) or None,
    )
    return manifest, config, layers


def _inline_records(
    chain: Sequence[SnapshotRecord], layers: Sequence[LayerInfo], entries: Sequence[tuple[str, int]]
) -> list[ChainRecord]:
    """The records of `entries` whose snapshots are in the image's chain (one layer per snapshot): each the
    image's layers up to it, sorted by key so that the same build writes the same config."""
    from slipway.export._cache_config import ChainRecord

    position = {record.id: index for index, record in enumerate(chain)}
    return [
        ChainRecord(
            key, tuple(layers[: position[snapshot_id] + 1]), chain[position[snapshot_id]].created or None
        )
        for key, snapshot_id in sorted(set(entries))
        if snapshot_id in position
    ]


def _created(
    store: Store, snapshot: SnapshotRecord | None, options: ExportOptions, image_layers: int
) -> float:
    """SOURCE_DATE_EPOCH, else when the newest step of the image ran (not when its base image was unpacked
    here): a fully cached rebuild, or one from an imported cache, then gives the same image ID, as BuildKit's.
    To the microsecond, as BuildKit's nanoseconds: two builds in one second are two times."""
    if options.source_date_epoch is not None:
        return options.source_date_epoch
    if snapshot is None:
        return 0
    chain = store.snapshots.chain(snapshot.id)
    return max(record.created for record in chain[image_layers:] or chain)


def image_config(stage: StagePlan, diff_ids: list[DiffID], created_at: float) -> ImageConfig:
    created = go_time(created_at)
    history = tuple(
        entry if entry.created is not None else msgspec.structs.replace(entry, created=created)
        for entry in stage.history
    )
    return msgspec.structs.replace(
        stage.config,
        inline_cache=None,  # the base image's steps are not this image's
        created=created,
        rootfs=RootFS(diff_ids=tuple(diff_ids)),
        history=_fit_history(history, len(diff_ids)),
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


def manifest_descriptor(store: Store, image: ImageRecord, platform: Platform | None = None) -> Descriptor:
    """The descriptor of `image`'s manifest as the store holds it."""
    media_type = image.manifest.media_type or MEDIA_OCI_MANIFEST
    size = len(store.blobs.read(image.manifest_digest))
    return Descriptor(media_type=media_type, digest=image.manifest_digest, size=size, platform=platform)


def compose_index(store: Store, images: Sequence[ImageRecord]) -> tuple[bytes, Descriptor]:
    """The OCI image index of `images` (one per platform, in order): its bytes and its descriptor. Each entry's
    platform is its config's, as a registry's index says which manifest runs where."""
    entries = []
    for image in images:
        config = image.config
        platform = Platform(
            architecture=config.architecture,
            os=config.os,
            variant=config.variant,
            os_version=config.os_version,
        )
        entries.append(manifest_descriptor(store, image, platform))
    data = encode_json(Index(manifests=tuple(entries), media_type=MEDIA_OCI_INDEX))
    return data, Descriptor(media_type=MEDIA_OCI_INDEX, digest=sha256_digest(data), size=len(data))
