"""Pulling an image: manifest (through an index to the platform's), config, then the layers in parallel."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import BinaryIO, TypeVar

import msgspec

from slipway.choices import DEFAULT_PLATFORM
from slipway.errors import ArchiveError, ImageNotFound, RegistryError, StoreError
from slipway.image.layers import LayerInfo, measure_layer
from slipway.image.oci import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MEDIA_DOCKER_CONFIG,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_MANIFEST_LIST,
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    DiffID,
    Digest,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    decode_json,
)
from slipway.image.platforms import format_platform, parse_platform, runs_on, select_manifest
from slipway.image.reference import Reference, parse_reference
from slipway.registry._measured import Measured
from slipway.registry._naming import naming
from slipway.registry._parallel import transfer_all
from slipway.registry.client import SCHEMA1_MEDIA_TYPES, RegistryClient
from slipway.registry.options import RegistryOptions
from slipway.store import BlobBatch, ImageRecord, Store

MANIFEST_ACCEPT = (
    MEDIA_OCI_INDEX,
    MEDIA_DOCKER_MANIFEST_LIST,
    MEDIA_OCI_MANIFEST,
    MEDIA_DOCKER_MANIFEST,
    *SCHEMA1_MEDIA_TYPES,
)
CONFIG_MEDIA_TYPES = (MEDIA_OCI_CONFIG, MEDIA_DOCKER_CONFIG)

EventSink = Callable[[str], None]
T = TypeVar("T")
log = logging.getLogger(__name__)


def pull_image(
    store: Store,
    ref: str,
    *,
    platform: str = DEFAULT_PLATFORM,
    options: RegistryOptions,
    on_event: EventSink | None = None,
) -> ImageRecord:
    """Pulls `ref` (a tag or a digest) for `platform` into the store and names it `ref`; returns the image.

    Every blob is verified against its digest and size; nothing of a failed pull stays in the store.
    """
    reference = parse_reference(ref)
    wanted = parse_platform(platform)
    emit = on_event or _ignore
    # The lease keeps a concurrent gc() from collecting the blobs fetched until images.add names them.
    with naming(reference), store.lease(), RegistryClient(reference.domain, options=options) as client:
        return _pull(client, store, reference, wanted, options, emit)


def fetch_image_config(
    store: Store, ref: str, *, platform: str = DEFAULT_PLATFORM, options: RegistryOptions
) -> tuple[Digest, ImageConfig]:
    """The manifest digest and the config of `ref` for `platform`, without its layers: what BuildKit's
    frontend resolves of a FROM image it evaluates but does not build (`build --call`). The config blob is
    kept in the store (verified, as every blob); no image is added, so nothing is named."""
    reference = parse_reference(ref)
    with store.lease(), RegistryClient(reference.domain, options=options) as client:
        manifest, _, digest = _resolve_manifest(client, reference, parse_platform(platform))
        if manifest.config.media_type not in CONFIG_MEDIA_TYPES:
            raise RegistryError(f"{ref} is not a container image: its config is {manifest.config.media_type}")
        if not store.blobs.has(manifest.config.digest):
            client.fetch_blob(reference.path, manifest.config, store.blobs)
        return digest, _decode(store.blobs.read(manifest.config.digest), ImageConfig, ref, "image config")


def _pull(
    client: RegistryClient,
    store: Store,
    reference: Reference,
    wanted: Platform,
    options: RegistryOptions,
    emit: EventSink,
) -> ImageRecord:
    name = str(reference)
    emit(f"{reference.tag or reference.digest}: Pulling from {reference.path}")
    manifest, body, digest = _resolve_manifest(client, reference, wanted)
    if manifest.config.media_type not in CONFIG_MEDIA_TYPES:
        raise RegistryError(f"{name} is not a container image: its config is {manifest.config.media_type}")
    # Every blob of the pull is written without a sync of its own and made visible at the batch's end, all
    # with one sync; the image record that names them comes after (store/blob_batch.py).
    with store.blobs.batch() as batch:
        config = _fetch_config(client, store, batch, reference, manifest.config)
        _check_config(config, manifest, wanted, name, emit)
        expected = dict(zip((layer.digest for layer in manifest.layers), config.rootfs.diff_ids, strict=True))
        measured = _fetch_layers(
            client, store, batch, reference.path, manifest.layers, expected, options.max_parallel, emit
        )
        # The registry's bytes, not a re-encoding: the image keeps the manifest digest it has in the registry.
        batch.put(body, expected=digest)
    emit(f"Digest: {digest}")
    previous = _existing(store, name) if reference.digest is None else None
    names = [name] if reference.digest is None else []  # as Docker: a pull by digest tags nothing
    image = store.images.add(manifest, config, names=names, manifest_digest=digest, measured=measured)
    try:
        store.blob_sources.record(
            reference.domain,
            reference.path,
            [manifest.config.digest, *(layer.digest for layer in manifest.layers)],
        )
    except StoreError as err:  # a hint for later pushes (on a full disk, say): not worth failing the pull
        log.debug("cannot record where %s's blobs are: %s", name, err)
    if previous is not None and previous.manifest_digest == image.manifest_digest:
        emit(f"Status: Image is up to date for {reference.familiar()}")
    else:
        emit(f"Status: Downloaded newer image for {reference.familiar()}")
    emit(name)
    return image


def _resolve_manifest(
    client: RegistryClient, reference: Reference, wanted: Platform
) -> tuple[Manifest, bytes, Digest]:
    name = str(reference)
    body, media_type, digest = client.get_manifest(
        reference.path, reference.digest or reference.tag or "latest", MANIFEST_ACCEPT
    )
    if media_type in INDEX_MEDIA_TYPES:
        index = _decode(body, Index, name, "image index")
        chosen = select_manifest(index.manifests, wanted)
        if chosen is None:
            available = ", ".join(
                sorted({format_platform(d.platform) for d in index.manifests if d.platform})
            )
            raise RegistryError(
                f"{name} has no image for {format_platform(wanted)}; it has {available or 'none'} "
                "(choose one with --platform)"
            )
        if chosen.media_type not in MANIFEST_MEDIA_TYPES:
            raise RegistryError(
                f"{name}: the index entry for {format_platform(wanted)} is a {chosen.media_type}, "
                "not an image manifest"
            )
        body, media_type, digest = client.get_manifest(reference.path, chosen.digest, MANIFEST_ACCEPT)
        if len(body) != chosen.size:
            raise RegistryError(
                f"{name}: the manifest {chosen.digest} is {len(body)} bytes, the index says {chosen.size}"
            )
    if media_type in SCHEMA1_MEDIA_TYPES:
        raise RegistryError(
            f"{name} is a Docker schema 1 image, which is deprecated and not supported; "
            "push it again with a current docker, buildah or skopeo to convert it"
        )
    if media_type not in MANIFEST_MEDIA_TYPES:
        raise RegistryError(f"{name}: unsupported manifest media type {media_type!r}")
    manifest = _decode(body, Manifest, name, "image manifest")
    if manifest.schema_version != 2:
        raise RegistryError(f"{name}: unsupported manifest schemaVersion {manifest.schema_version}")
    return manifest, body, digest


def _fetch_config(
    client: RegistryClient, store: Store, batch: BlobBatch, reference: Reference, descriptor: Descriptor
) -> ImageConfig:
    name = str(reference)
    if store.blobs.has(descriptor.digest):
        data = store.blobs.read(descriptor.digest)
    else:
        fetched = Measured(batch, _read_all)
        client.fetch_blob(reference.path, descriptor, fetched)
        data = fetched.result
    return _decode(data, ImageConfig, name, "image config")


def _check_config(
    config: ImageConfig, manifest: Manifest, wanted: Platform, name: str, emit: EventSink
) -> None:
    actual = Platform(architecture=config.architecture, os=config.os, variant=config.variant)
    if not runs_on(actual, wanted):
        # As Docker: a single-platform image is pulled anyway, with a warning.
        emit(
            f"WARNING: the image's platform ({format_platform(actual)}) does not match the requested platform "
            f"({format_platform(wanted)})"
        )
    if len(config.rootfs.diff_ids) != len(manifest.layers):
        raise RegistryError(
            f"{name}: the manifest has {len(manifest.layers)} layers but the image config "
            f"lists {len(config.rootfs.diff_ids)} diff_ids"
        )


def _fetch_layers(
    client: RegistryClient,
    store: Store,
    batch: BlobBatch,
    repository: str,
    layers: Sequence[Descriptor],
    diff_ids: dict[Digest, DiffID],
    max_parallel: int,
    emit: EventSink,
) -> list[LayerInfo]:
    """The missing layers fetched into `batch`, several at once, each measured as it arrives (its diff_id
    checked against the config's): what images.add records for them."""
    missing: dict[Digest, Descriptor] = {}
    for layer in layers:
        if store.blobs.has(layer.digest):
            emit(f"{_short(layer.digest)}: Already exists")
        elif layer.digest not in missing:
            missing[layer.digest] = layer
            emit(f"{_short(layer.digest)}: Pulling fs layer")
    measured: list[LayerInfo] = []

    def fetch(layer: Descriptor) -> None:
        where = f"{client.domain}/{repository}@{layer.digest}"
        # Decompressed in this thread: the other fetches keep the other cores busy.
        fetched = Measured(batch, partial(measure_layer, media_type=layer.media_type, decompress_ahead=False))
        try:
            client.fetch_blob(repository, layer, fetched)
        except ArchiveError as err:
            raise RegistryError(f"{where}: the layer is not a valid {layer.media_type}: {err}") from err
        diff_id, size, content_size = fetched.result
        if diff_id != diff_ids[layer.digest]:
            raise RegistryError(
                f"{where}: the layer unpacks to {diff_id}, but the image config says "
                f"{diff_ids[layer.digest]}; the image is inconsistent"
            )
        # The layer's own facts only: not the manifest's annotations or URLs for it.
        blob = Descriptor(media_type=layer.media_type, digest=layer.digest, size=layer.size)
        measured.append(LayerInfo(diff_id, blob, uncompressed_size=size, content_size=content_size))
        emit(f"{_short(layer.digest)}: Pull complete")

    transfer_all(client, list(missing.values()), fetch, max_parallel)
    return measured


def _read_all(stream: BinaryIO) -> bytes:
    return stream.read()


def _existing(store: Store, name: str) -> ImageRecord | None:
    try:
        return store.images.resolve(name)
    except ImageNotFound:
        return None


def _decode(data: bytes, type_: type[T], name: str, what: str) -> T:
    try:
        return decode_json(data, type_)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise RegistryError(f"{name}: the registry sent an invalid {what} ({err})") from err


def _short(digest: Digest) -> str:
    return digest.split(":", 1)[-1][:12]


def _ignore(line: str) -> None:
    return None
