"""`docker save` archives: written for `docker load`, read from every Docker version's `docker save`.

Written as Docker 25+ writes them: an OCI image layout (see oci_layout) plus `manifest.json`
([{Config, RepoTags, Layers}]) and `repositories`, whose paths point into `blobs/sha256/`. The layer blobs
go in as stored: `docker load` decompresses each layer it reads (gzip, zstd) and checks the diff_id of
the uncompressed stream against the config, and slipway load then finds the very manifest it saved in
index.json, so manifest and config digests survive a round trip. A zstd layer also gets a plain tar copy
(blobs/sha256/<diff_id>) for manifest.json, since Docker before 23 cannot read zstd.

Read: the legacy layout (`<id>.json` configs, `<id>/layer.tar`, symlinks between shared layers) and the
Docker 25+ one; when manifest.json is absent, the archive is read as a plain OCI layout.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import BinaryIO

import msgspec

from slipway.errors import ExportError
from slipway.export._extraction import ArchiveFile, extract_archive
from slipway.export._staging import LoadedImage, StagedImage, Staging, commit_images
from slipway.export._tar_writer import TarPlan
from slipway.export.oci_layout import (
    INDEX_FILE,
    add_oci_layout,
    blob_name,
    exported_blob,
    find_oci_manifest,
    stage_oci_layout,
)
from slipway.export.selection import ImageSelection
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER_ZSTD,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    DiffID,
    Digest,
    ImageConfig,
    Manifest,
    encode_json,
)
from slipway.image.reference import parse_reference
from slipway.image.sniffed import CHUNK, CorruptStream, GuardedReader, decompressed
from slipway.store import Store, reporting_no_space

__all__ = ["DockerManifestEntry", "load_archive", "stage_docker_archive", "write_docker_archive"]

MANIFEST_FILE = "manifest.json"
REPOSITORIES_FILE = "repositories"
# Names that carry their content's sha256: "<hex>.json" (legacy configs), "blobs/sha256/<hex>" (Docker 25+).
_DIGEST_NAME = re.compile(r"(?:.*/)?(?:blobs/sha256/)?([a-f0-9]{64})(?:\.json)?")


class DockerManifestEntry(msgspec.Struct, frozen=True, rename="pascal"):
    config: str
    layers: tuple[str, ...]
    repo_tags: tuple[str, ...] | None = None


# --- writing ---------------------------------------------------------------------------------------------


def write_docker_archive(store: Store, selections: list[ImageSelection], out: BinaryIO) -> None:
    """A `docker load`-able archive of `selections` on `out`; the same images give the same bytes."""
    plan = TarPlan()
    add_oci_layout(store, selections, plan)
    entries: list[DockerManifestEntry] = []
    repositories: dict[str, dict[str, str]] = {}
    with store.temp_dir("save") as work:
        for selection in selections:
            layers = [
                _docker_layer(store, selection, plan, work, descriptor, diff_id)
                for descriptor, diff_id in zip(
                    selection.image.manifest.layers, selection.image.config.rootfs.diff_ids, strict=True
                )
            ]
            tags = tuple(parse_reference(name).familiar() for name in selection.names)
            entries.append(
                DockerManifestEntry(
                    config=blob_name(selection.image.id), layers=tuple(layers), repo_tags=tags
                )
            )
            if layers:
                _add_repositories(repositories, selection.names, layers[-1])
        plan.add_bytes(MANIFEST_FILE, encode_json(entries))
        if repositories:
            plan.add_bytes(REPOSITORIES_FILE, encode_json(_sorted_repositories(repositories)))
        plan.write(out)


def _docker_layer(
    store: Store,
    selection: ImageSelection,
    plan: TarPlan,
    work: Path,
    descriptor: Descriptor,
    diff_id: DiffID,
) -> str:
    if descriptor.media_type != MEDIA_OCI_LAYER_ZSTD:
        return blob_name(descriptor.digest)
    name = blob_name(Digest(diff_id))
    if name not in plan:
        plain = work / diff_id.partition(":")[2]
        with (
            reporting_no_space(store.root, f"saving image {selection.label}"),
            exported_blob(store, selection, descriptor.digest, descriptor.size) as blob,
        ):
            try:
                with decompressed(blob) as (_, stream), open(plain, "wb") as out:
                    reader = GuardedReader(stream)
                    while chunk := reader.read(CHUNK):
                        out.write(chunk)
            except CorruptStream as err:
                raise ExportError(
                    f"cannot export image {selection.label}: its layer {descriptor.digest} does not "
                    f"decompress ({err}); `slipway system check` lists what is damaged"
                ) from err
            while blob.read(CHUNK):
                pass  # to its end, where the blob is checked against its digest
        plan.add_file(name, plain)
    return name


def _add_repositories(
    repositories: dict[str, dict[str, str]], names: tuple[str, ...], top_layer: str
) -> None:
    # Docker's legacy `repositories`: familiar repository -> tag -> the top layer's id (here: its blob hex).
    for name in names:
        reference = parse_reference(name)
        if reference.tag is None:
            continue
        repository = reference.familiar().rsplit(":", 1)[0]
        repositories.setdefault(repository, {})[reference.tag] = top_layer.rsplit("/", 1)[1]


def _sorted_repositories(repositories: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {repository: dict(sorted(tags.items())) for repository, tags in sorted(repositories.items())}


# --- reading ---------------------------------------------------------------------------------------------


def stage_docker_archive(staging: Staging) -> list[StagedImage]:
    """Every image manifest.json lists, verified; ArchiveError naming the archive and entry otherwise."""
    entries, _ = staging.document(MANIFEST_FILE, "manifest", list[DockerManifestEntry])
    if not entries:
        raise staging.fail("manifest.json lists no image")
    return [_stage_entry(staging, entry) for entry in entries]


def _stage_entry(staging: Staging, entry: DockerManifestEntry) -> StagedImage:
    config_file = _named_file(staging, entry.config, "config")
    config, config_bytes = staging.document(entry.config, "config", ImageConfig)
    names = staging.names(entry.repo_tags or (), "RepoTags entry")
    found = find_oci_manifest(staging.archive, config_file.digest)
    if found is not None:
        # Docker 25+ (and slipway) archives: the manifest in index.json keeps its digest; its layer blobs are
        # what enters the store, so they are the ones checked.
        manifest_digest, manifest_bytes = found
        manifest = staging.decode(manifest_bytes, blob_name(manifest_digest), "manifest", Manifest)
        staging.check_diff_id_count(f"manifest {blob_name(manifest_digest)!r}", len(manifest.layers), config)
        layers = []
        for descriptor, diff_id in zip(manifest.layers, config.rootfs.diff_ids, strict=True):
            layer_entry, layer_file = staging.blob(descriptor.digest, "layer", descriptor.size)
            layers.append(staging.layer(layer_entry, layer_file, descriptor, diff_id))
    else:
        staging.check_diff_id_count(f"manifest.json entry for {entry.config!r}", len(entry.layers), config)
        layers = [
            staging.layer(path, _named_file(staging, path, "layer"), None, diff_id)
            for path, diff_id in zip(entry.layers, config.rootfs.diff_ids, strict=True)
        ]
        manifest = Manifest(
            config=Descriptor(media_type=MEDIA_OCI_CONFIG, digest=config_file.digest, size=config_file.size),
            layers=tuple(layer.info.descriptor for layer in layers),
            media_type=MEDIA_OCI_MANIFEST,
        )
        manifest_bytes = encode_json(manifest)
        manifest_digest = Digest("sha256:" + hashlib.sha256(manifest_bytes).hexdigest())
    return StagedImage(
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        manifest_digest=manifest_digest,
        config=config,
        config_bytes=config_bytes,
        layers=tuple(layers),
        names=names,
    )


def _named_file(staging: Staging, entry: str, what: str) -> ArchiveFile:
    found = staging.file(entry, what)
    match = _DIGEST_NAME.fullmatch(entry)
    if match is not None:
        staging.check_content(entry, found, Digest("sha256:" + match.group(1)), what)
    return found


# --- loading either kind ---------------------------------------------------------------------------------


def load_archive(store: Store, source: BinaryIO, archive_name: str) -> list[LoadedImage]:
    """Load a docker-save or OCI layout archive (gzip/zstd-compressed or not) from `source` into `store`.

    Everything is read into the store's tmp/ and verified first; a bad archive raises ArchiveError and
    leaves the store as it was.
    """
    with store.temp_dir("load") as work, reporting_no_space(store.root, f"loading {archive_name}"):
        archive = extract_archive(source, archive_name, work)
        staging = Staging(archive)
        if MANIFEST_FILE in archive.files:
            staged = stage_docker_archive(staging)
        elif INDEX_FILE in archive.files:
            staged = stage_oci_layout(staging)
        else:
            raise staging.fail("neither manifest.json (docker save) nor index.json (OCI layout) is in it")
        return commit_images(store, staged)
