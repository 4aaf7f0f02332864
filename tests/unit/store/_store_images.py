"""Real tiny images for store tests: layers packed from real directories, configs and manifests as exported."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from slipway.image.layers import LayerInfo, pack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    Descriptor,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
    sha256_digest,
)
from slipway.store import ImageRecord, Store


def make_layer(
    store: Store, work: Path, files: Mapping[str, bytes], *, compression: str = "gzip"
) -> LayerInfo:
    """Pack `files` (path -> content) into a layer blob in the store."""
    work.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix="layer-", dir=work))
    for name, content in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    with store.ingest() as writer:
        info = pack_layer(tree, writer, compression=compression, source_date_epoch=0)  # type: ignore[arg-type]
    assert writer.digest == info.descriptor.digest
    return info


def image_parts(
    layers: Sequence[LayerInfo], *, created: str = "2024-01-01T00:00:00Z", label: str = ""
) -> tuple[Manifest, ImageConfig]:
    config = ImageConfig(
        architecture="amd64",
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
    store: Store, layers: Sequence[LayerInfo], names: Sequence[str] = (), **parts: str
) -> ImageRecord:
    manifest, config = image_parts(layers, **parts)
    return store.add_image(manifest, config, names)
