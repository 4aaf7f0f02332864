"""Real tiny images for store tests: layers packed from real directories, configs and manifests as exported."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from slipway.image.layers import LayerInfo, pack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    Descriptor,
    Digest,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
    sha256_digest,
)
from slipway.store import (
    ContentStore,
    ImageRecord,
    ImageStore,
    PrepareMode,
    SnapshotRecord,
    Snapshotter,
    Store,
)
from slipway.worker.mount_plan import Direct, MountPlan


def make_layer(
    blobs: ContentStore, work: Path, files: Mapping[str, bytes], *, compression: str = "gzip"
) -> LayerInfo:
    """Pack `files` (path -> content) into a layer blob in the content store."""
    work.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix="layer-", dir=work))
    for name, content in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    with blobs.ingest() as writer:
        info = pack_layer(tree, writer, compression=compression, source_date_epoch=0)  # type: ignore[arg-type]
    assert writer.digest == info.descriptor.digest
    return info


def image_parts(
    layers: Sequence[LayerInfo],
    *,
    created: str = "2024-01-01T00:00:00Z",
    label: str = "",
    architecture: str = "amd64",
) -> tuple[Manifest, ImageConfig]:
    config = ImageConfig(
        architecture=architecture,
        os="linux",
        created=created,
        rootfs=RootFS(diff_ids=tuple(layer.diff_id for layer in layers)),
        author=label or None,
    )
    config_bytes = encode_json(config)
    manifest = Manifest(
        config=Descriptor(
            media_type=MEDIA_OCI_CONFIG, digest=sha256_digest(config_bytes), size=len(config_bytes)
        ),
        layers=tuple(layer.descriptor for layer in layers),
    )
    return manifest, config


def add_image(
    images: ImageStore, layers: Sequence[LayerInfo], names: Sequence[str] = (), **parts: str
) -> ImageRecord:
    manifest, config = image_parts(layers, **parts)
    return images.add(manifest, config, names)


def written_tree(plan: MountPlan) -> Path:
    """Where a prepared snapshot's new files go: what an overlay writes into its upper dir, or the tree itself."""
    if isinstance(plan, Direct):
        return plan.path
    assert plan.upper is not None, "a plan to write into has an upper dir"
    return plan.upper


def commit_files(
    snapshots: Snapshotter,
    files: Mapping[str, bytes],
    parent: SnapshotRecord | None = None,
    *,
    mode: PrepareMode = "merged",
) -> SnapshotRecord:
    """A committed snapshot holding `files` (path -> content) in its own tree, as a build step leaves one."""
    key = f"test-{secrets.token_hex(8)}"
    tree = written_tree(snapshots.prepare(key, parent.id if parent else None, mode))
    for name, content in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return snapshots.commit(key)


def blob_file(store: Store, digest: Digest) -> Path:
    """Where the store keeps a blob, for tests that damage or remove it behind the store's back."""
    return store.root / "blobs" / "sha256" / digest.removeprefix("sha256:")


def snapshot_id_of(plan: MountPlan) -> int:
    """The id of the snapshot a plan writes into (<root>/snapshots/<id>/fs), for tests of what the store keeps."""
    return int(written_tree(plan).parent.name)
