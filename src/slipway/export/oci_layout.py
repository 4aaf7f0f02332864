"""OCI image layout archives (image-spec `image-layout.md`): `oci-layout`, `index.json`, `blobs/sha256/...`.

Written as skopeo (`oci-archive:`), umoci and containerd read them: one index entry per name, annotated with
`org.opencontainers.image.ref.name` (the tag, what `umoci --image DIR:TAG` and skopeo match) and
`io.containerd.image.name` (the full name, what containerd and Docker 25+ restore). Blobs are copied as
stored, so manifest and config digests survive a save and load.

Read as untrusted input: every blob is checked against its descriptor before it is used.
"""

from __future__ import annotations

import dataclasses
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import BinaryIO

import msgspec

from slipway.errors import ArchiveError, ExportError, StoreError
from slipway.export._extraction import ExtractedArchive
from slipway.export._staging import StagedImage, Staging
from slipway.export._tar_writer import TarPlan
from slipway.export.image import compose_index
from slipway.export.selection import ImageSelection
from slipway.image.oci import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    Digest,
    ImageConfig,
    Index,
    Manifest,
    encode_json,
)
from slipway.image.platforms import host_platform
from slipway.image.reference import parse_reference
from slipway.store import ImageRecord, Store

__all__ = [
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "add_oci_layout",
    "exported_blob",
    "find_oci_manifest",
    "load_layout_image",
    "stage_oci_layout",
    "write_oci_archive",
    "write_oci_directory",
]

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = b'{"imageLayoutVersion":"1.0.0"}'
MAX_INDEX_DEPTH = 4


class _LayoutFile(msgspec.Struct, frozen=True):
    image_layout_version: str = msgspec.field(name="imageLayoutVersion")


def blob_name(digest: Digest) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"blobs/{algorithm}/{encoded}"


# --- writing ---------------------------------------------------------------------------------------------


def add_oci_layout(store: Store, selections: list[ImageSelection], plan: TarPlan) -> None:
    """Put the layout of `selections` (every blob, oci-layout, index.json) into `plan`."""
    plan.add_bytes(LAYOUT_FILE, LAYOUT_VERSION)
    descriptors: list[Descriptor] = []
    written: set[Digest] = set()
    for selection in selections:
        for image in selection.platforms or (selection.image,):
            manifest_size = _manifest_size(store, selection, image)
            blobs = [
                (image.manifest_digest, manifest_size),
                (image.manifest.config.digest, image.manifest.config.size),
            ]
            blobs += [(layer.digest, layer.size) for layer in image.manifest.layers]
            for digest, size in blobs:
                if digest in written:  # a layer two platforms share (a COPY into FROM scratch) goes in once
                    continue
                written.add(digest)
                # Streamed and checked as they are copied (a deferred layer is packed from its snapshot into
                # the archive, never onto the disk): a blob damaged in the store fails the export, naming it.
                plan.add_stream(
                    blob_name(digest), size, partial(exported_blob, store, selection, digest, size)
                )
        if selection.platforms:
            data, base = compose_index(store, selection.platforms)
            plan.add_bytes(blob_name(base.digest), data)
        else:
            image = selection.image
            base = Descriptor(
                media_type=image.manifest.media_type or MEDIA_OCI_MANIFEST,
                digest=image.manifest_digest,
                size=_manifest_size(store, selection, image),
            )
        descriptors.extend(_named_descriptors(base, selection.names))
    index = Index(manifests=tuple(descriptors), media_type=MEDIA_OCI_INDEX)
    plan.add_bytes(INDEX_FILE, encode_json(index))


@contextmanager
def exported_blob(store: Store, selection: ImageSelection, digest: Digest, size: int) -> Iterator[BinaryIO]:
    """A blob of `selection`'s image read for export; a damaged one fails with ExportError naming both."""
    try:
        with store.blobs.stream(digest, size) as stream:
            yield stream
    except StoreError as err:
        raise ExportError(f"cannot export image {selection.label}: {err}") from err


def _manifest_size(store: Store, selection: ImageSelection, image: ImageRecord) -> int:
    try:
        return len(store.blobs.read(image.manifest_digest))
    except StoreError as err:
        raise ExportError(f"cannot export image {selection.label}: {err}") from err


def _named_descriptors(base: Descriptor, names: tuple[str, ...]) -> Iterator[Descriptor]:
    if not names:
        yield base
    for name in names:
        reference = parse_reference(name)
        annotations = {ANNOTATION_IMAGE_NAME: str(reference)}
        if reference.tag is not None:
            annotations[ANNOTATION_REF_NAME] = reference.tag
        yield msgspec.structs.replace(base, annotations=annotations)


def write_oci_archive(store: Store, selections: list[ImageSelection], out: BinaryIO) -> None:
    """An OCI image layout of `selections` as a tar on `out` (what `skopeo copy oci-archive:` reads)."""
    plan = TarPlan()
    add_oci_layout(store, selections, plan)
    plan.write(out)


def write_oci_directory(store: Store, selections: list[ImageSelection], dest: Path) -> None:
    """The same layout as files in directory `dest` (what `skopeo copy oci:` and umoci read)."""
    plan = TarPlan()
    add_oci_layout(store, selections, plan)
    plan.write_directory(dest)


# --- reading ---------------------------------------------------------------------------------------------


def stage_oci_layout(staging: Staging) -> list[StagedImage]:
    """Every image the layout's index.json names (for a multi-platform index: this host's platform)."""
    if LAYOUT_FILE in staging.archive.files:
        layout, _ = staging.document(LAYOUT_FILE, "layout file", _LayoutFile)
        if not layout.image_layout_version.startswith("1."):
            raise staging.fail(f"oci-layout has version {layout.image_layout_version!r}; slipway reads 1.x")
    index, _ = staging.document(INDEX_FILE, "index", Index)
    images = []
    for descriptor, names in _manifests(staging, index, (), INDEX_FILE, 0):
        images.append(_stage_manifest(staging, descriptor, names))
    if not images:
        raise staging.fail("index.json names no image manifest")
    return images


def _manifests(
    staging: Staging, index: Index, names: tuple[str, ...], where: str, depth: int
) -> Iterator[tuple[Descriptor, tuple[str, ...]]]:
    for descriptor in _for_this_platform(staging, index, where, nested=depth > 0):
        own_names = names or _names_of(staging, descriptor)
        if descriptor.media_type in MANIFEST_MEDIA_TYPES:
            yield descriptor, own_names
        elif descriptor.media_type in INDEX_MEDIA_TYPES:
            if depth >= MAX_INDEX_DEPTH:
                raise staging.fail(f"indexes nest more than {MAX_INDEX_DEPTH} deep at {descriptor.digest}")
            entry, found = staging.blob(descriptor.digest, "image index", descriptor.size)
            nested = staging.decode(found.path.read_bytes(), entry, "image index", Index)
            yield from _manifests(staging, nested, own_names, entry, depth + 1)
        # Other media types (signatures, attestation blobs) are not images: skipped, as docker load does.


def _for_this_platform(staging: Staging, index: Index, where: str, *, nested: bool) -> list[Descriptor]:
    """The top index lists images; a nested one lists platforms of one image, of which this host takes one."""
    if not nested:
        return list(index.manifests)
    with_platform = [d for d in index.manifests if d.platform is not None]
    if not with_platform:
        return list(index.manifests[:1])
    architecture = host_platform().architecture
    matching = [
        d
        for d in with_platform
        if d.platform is not None and (d.platform.os, d.platform.architecture) == ("linux", architecture)
    ]
    if not matching:
        offered = ", ".join(
            sorted({f"{d.platform.os}/{d.platform.architecture}" for d in with_platform if d.platform})
        )
        raise staging.fail(f"{where} has no image for linux/{architecture} (it has {offered})")
    return matching[:1]


def _names_of(staging: Staging, descriptor: Descriptor) -> tuple[str, ...]:
    annotations = descriptor.annotations or {}
    if ANNOTATION_IMAGE_NAME in annotations:
        return staging.names([annotations[ANNOTATION_IMAGE_NAME]], "image name annotation")
    ref_name = annotations.get(ANNOTATION_REF_NAME)
    # A bare tag ("latest", "v1") names no repository: the image loads untagged, as with Docker 25+.
    if ref_name and any(c in ref_name for c in "/:"):
        return staging.names([ref_name], "ref name annotation")
    return ()


def _stage_manifest(staging: Staging, descriptor: Descriptor, names: tuple[str, ...]) -> StagedImage:
    entry, found = staging.blob(descriptor.digest, "manifest", descriptor.size)
    manifest_bytes = found.path.read_bytes()
    manifest = staging.decode(manifest_bytes, entry, "manifest", Manifest)
    config_entry, config_found = staging.blob(manifest.config.digest, "config", manifest.config.size)
    config_bytes = config_found.path.read_bytes()
    config = staging.decode(config_bytes, config_entry, "config", ImageConfig)
    staging.check_diff_id_count(f"manifest {entry!r}", len(manifest.layers), config)
    layers = []
    for layer, diff_id in zip(manifest.layers, config.rootfs.diff_ids, strict=True):
        layer_entry, layer_found = staging.blob(layer.digest, "layer", layer.size)
        layers.append(staging.layer(layer_entry, layer_found, layer, diff_id))
    return StagedImage(
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        manifest_digest=descriptor.digest,
        config=config,
        config_bytes=config_bytes,
        layers=tuple(layers),
        names=names,
    )


def load_layout_image(store: Store, directory: Path, digest: str | None) -> ImageRecord:
    """The image of OCI layout `directory` whose manifest is `digest` (None: its only image), loaded into the
    store without a name (for --build-context NAME=oci-layout://DIR@DIGEST). Read as untrusted, as an archive:
    the directory is packed (symlinks as symlinks) and goes through the archive reader's checks."""
    from slipway.export._extraction import extract_archive
    from slipway.export._staging import commit_images

    with store.temp_dir("oci-layout") as work:
        packed = work / "layout.tar"
        with tarfile.open(packed, "w") as archive:
            archive.add(directory, arcname=".")  # symlinks are stored, never followed
        (work / "unpacked").mkdir()
        with packed.open("rb") as source:
            staging = Staging(extract_archive(source, str(directory), work / "unpacked"))
        images = stage_oci_layout(staging)
        chosen = [image for image in images if digest is None or image.manifest_digest == digest]
        if len(chosen) != 1:
            wanted = f"a manifest {digest}" if digest else "one image (name it with @sha256:...)"
            raise ArchiveError(f"OCI layout {directory}: has not {wanted}")
        return commit_images(store, [dataclasses.replace(chosen[0], names=())])[0].image


def find_oci_manifest(archive: ExtractedArchive, config: Digest) -> tuple[Digest, bytes] | None:
    """The manifest in the archive's index.json (Docker 25+ writes one beside manifest.json) for this config,
    its content checked and its layer blobs present; None if there is none."""
    listing = archive.files.get(INDEX_FILE)
    if listing is None or listing.size > 16 << 20:
        return None
    try:
        index = msgspec.json.decode(listing.path.read_bytes(), type=Index)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # docker load ignores index.json; so does this fallback
    for descriptor in index.manifests:
        if descriptor.media_type not in MANIFEST_MEDIA_TYPES:
            continue
        found = archive.files.get(blob_name(descriptor.digest))
        if found is None or found.digest != descriptor.digest or found.size > 16 << 20:
            continue
        data = found.path.read_bytes()
        try:
            manifest = msgspec.json.decode(data, type=Manifest)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        if manifest.config.digest == config and all(
            blob_name(layer.digest) in archive.files for layer in manifest.layers
        ):
            return descriptor.digest, data
    return None
