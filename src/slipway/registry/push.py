"""Pushing an image: each blob the registry lacks is mounted from a sibling repository or uploaded; manifest last."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slipway.errors import InvalidReference
from slipway.image.oci import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, Descriptor, Digest
from slipway.image.reference import Reference, parse_reference
from slipway.registry._naming import naming
from slipway.registry._parallel import transfer_all
from slipway.registry.client import RegistryClient
from slipway.registry.options import RegistryOptions
from slipway.store import ImageRecord, Store

EventSink = Callable[[str], None]
MAX_MOUNT_TRIES = 3  # each refused mount costs a round trip; past a few, uploading is cheaper


def push_image(
    store: Store, image: ImageRecord, ref: str, *, options: RegistryOptions, on_event: EventSink | None = None
) -> Digest:
    """Pushes `image` as `ref` (a tag; ":latest" when none) and returns the digest of the pushed manifest.

    `on_event` gets Docker-like progress lines, possibly from several threads at once.
    """
    reference = parse_reference(ref)
    if reference.digest is not None:
        raise InvalidReference(f"cannot push to {ref}: a digest reference names content; push to a tag")
    emit = on_event or _ignore
    with naming(reference), RegistryClient(reference.domain, options=options, push=True) as client:
        return _push(client, store, image, reference, options, emit)


def push_index(
    store: Store,
    images: Sequence[ImageRecord],
    index: bytes,
    ref: str,
    *,
    options: RegistryOptions,
    on_event: EventSink | None = None,
) -> Digest:
    """Pushes `images` (one per platform) by digest, then `index` (their OCI image index) as `ref` (a tag);
    the index's digest. The images must be distributable (their layers compressed) already."""
    reference = parse_reference(ref)
    if reference.digest is not None:
        raise InvalidReference(f"cannot push to {ref}: a digest reference names content; push to a tag")
    emit = on_event or _ignore
    with naming(reference), RegistryClient(reference.domain, options=options, push=True) as client:
        for image in images:
            _push(client, store, image, reference, options, emit, tag=image.manifest_digest)
        tag = reference.tag or "latest"
        digest = client.put_manifest(reference.path, tag, index, MEDIA_OCI_INDEX)
        emit(f"{tag}: digest: {digest} size: {len(index)}")
        return digest


def _push(
    client: RegistryClient,
    store: Store,
    image: ImageRecord,
    reference: Reference,
    options: RegistryOptions,
    emit: EventSink,
    *,
    tag: str | None = None,
) -> Digest:
    """Push `image`'s blobs, then its manifest as `tag` (default: the reference's tag, or latest)."""
    emit(f"The push refers to repository [{reference.repository}]")
    sources = store.blob_sources
    siblings = _sibling_repositories(image, reference)

    def push_blob(descriptor: Descriptor, announce: bool = True) -> None:
        short = descriptor.digest.split(":", 1)[-1][:12]
        if client.has_blob(reference.path, descriptor.digest):
            if announce:
                emit(f"{short}: Layer already exists")
            return
        candidates = [
            repository
            for repository in sources.repositories(reference.domain, descriptor.digest)
            if repository != reference.path
        ]
        candidates += [repository for repository in siblings if repository not in candidates]
        for source in candidates[:MAX_MOUNT_TRIES]:
            if client.mount_blob(reference.path, descriptor.digest, source):
                if announce:
                    emit(f"{short}: Mounted from {source}")
                return
            sources.forget(reference.domain, source, descriptor.digest)
        client.push_blob(reference.path, descriptor, store)
        if announce:
            emit(f"{short}: Pushed")

    layers = list({layer.digest: layer for layer in image.manifest.layers}.values())
    transfer_all(client, layers, push_blob, options.max_parallel)
    push_blob(image.manifest.config, announce=False)
    body = store.blobs.read(image.manifest_digest)
    tag = tag or reference.tag or "latest"
    digest = client.put_manifest(reference.path, tag, body, image.manifest.media_type or MEDIA_OCI_MANIFEST)
    sources.record(
        reference.domain, reference.path, [image.manifest.config.digest, *(layer.digest for layer in layers)]
    )
    emit(f"{tag}: digest: {digest} size: {len(body)}")
    return digest


def _sibling_repositories(image: ImageRecord, reference: Reference) -> list[str]:
    """Repositories on the same registry that the image's own names point at: likely holders of its blobs."""
    found: list[str] = []
    for name in image.names:
        try:
            other = parse_reference(name)
        except InvalidReference:
            continue
        if other.domain == reference.domain and other.path != reference.path and other.path not in found:
            found.append(other.path)
    return found


def _ignore(line: str) -> None:
    return None
