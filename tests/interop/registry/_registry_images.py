"""Tiny real images for the registry tests, made with the store API: a rootfs dir -> pack_layer -> store.blobs.ingest ->
add_image. The busybox layer runs (`echo hi`); extra layers of random bytes make each test's blobs its own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from slipway.image.layers import pack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_MANIFEST,
    ContainerConfig,
    Descriptor,
    History,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
)
from slipway.store import ImageRecord, Store

BUSYBOX = Path("/bin/busybox")


def busybox_tree(directory: Path) -> Path:
    (directory / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, directory / "bin" / "busybox")
    for applet in ("sh", "echo", "cat", "ls"):
        (directory / "bin" / applet).symlink_to("busybox")
    return directory


def files_tree(directory: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return directory


def make_image(
    store: Store,
    workdir: Path,
    name: str | None,
    *,
    busybox: bool = True,
    random_sizes: tuple[int, ...] = (4096,),
    architecture: str = "amd64",
    variant: str | None = None,
) -> ImageRecord:
    """An image named `name`: busybox (optional), then one layer of `size` random bytes per entry."""
    trees: list[Path] = []
    if busybox:
        trees.append(busybox_tree(workdir / "layer-busybox"))
    for position, size in enumerate(random_sizes):
        trees.append(
            files_tree(workdir / f"layer-{position}", {f"data/blob-{position}.bin": os.urandom(size)})
        )
    layers = []
    for tree in trees:
        with store.blobs.ingest() as writer:
            info = pack_layer(tree, writer, compression="gzip", source_date_epoch=0)
        store.images.record_layer(info)
        layers.append(info)
    config = ImageConfig(
        architecture=architecture,
        os="linux",
        variant=variant,
        created="2024-01-01T00:00:00Z",
        rootfs=RootFS(diff_ids=tuple(layer.diff_id for layer in layers)),
        config=ContainerConfig(env=("PATH=/bin",), cmd=("/bin/sh",)),
        history=tuple(
            History(created="2024-01-01T00:00:00Z", created_by=f"layer {i}") for i in range(len(layers))
        ),
    )
    config_bytes = encode_json(config)
    config_digest = store.blobs.put(config_bytes)
    manifest = Manifest(
        config=Descriptor(media_type=MEDIA_OCI_CONFIG, digest=config_digest, size=len(config_bytes)),
        layers=tuple(layer.descriptor for layer in layers),
        media_type=MEDIA_OCI_MANIFEST,
    )
    return store.images.add(manifest, config, [name] if name else [])
