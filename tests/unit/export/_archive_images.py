"""Tiny real images for the archive and image-command tests, made with tarfile and gzip (no root needed).

Imported by the test modules beside it (a module of its own name: conftest modules all share one name)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from slipway.cli import cli
from slipway.image.layers import LayerInfo
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER_GZIP,
    MEDIA_OCI_MANIFEST,
    ContainerConfig,
    Descriptor,
    DiffID,
    Digest,
    History,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
)
from slipway.store import ImageRecord, Store


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed layer tar of regular files (parent dirs added), deterministic."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(name).parent) for name in files if str(Path(name).parent) != "."})
        for directory in dirs:
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sha256(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def put_layer(store: Store, files: dict[str, bytes]) -> LayerInfo:
    plain = layer_tar(files)
    blob = gzip.compress(plain, mtime=0)
    info = LayerInfo(
        diff_id=DiffID(sha256(plain)),
        descriptor=Descriptor(media_type=MEDIA_OCI_LAYER_GZIP, digest=store.blobs.put(blob), size=len(blob)),
        uncompressed_size=len(plain),
    )
    store.images.record_layer(info)
    return info


def add_image(
    store: Store,
    layers: Sequence[dict[str, bytes]],
    names: Sequence[str] = (),
    *,
    base: ImageRecord | None = None,
    config: ContainerConfig | None = None,
    created: str = "2024-05-01T10:00:00Z",
    created_by: str = "COPY files /",
) -> ImageRecord:
    """An image of `layers` (each a dict of files) on top of `base`'s layers, tagged `names`."""
    infos = [store.images.layer(diff_id) for diff_id in base.config.rootfs.diff_ids] if base else []
    history = list(base.config.history) if base else []
    for files in layers:
        infos.append(put_layer(store, files))
        history.append(History(created=created, created_by=created_by))
    assert all(info is not None for info in infos)
    image_config = ImageConfig(
        architecture="amd64",
        os="linux",
        created=created,
        config=config or (base.config.config if base else ContainerConfig(cmd=("/bin/sh",))),
        rootfs=RootFS(diff_ids=tuple(info.diff_id for info in infos if info)),
        history=tuple(history),
    )
    config_bytes = encode_json(image_config)
    manifest = Manifest(
        config=Descriptor(
            media_type=MEDIA_OCI_CONFIG, digest=store.blobs.put(config_bytes), size=len(config_bytes)
        ),
        layers=tuple(info.descriptor for info in infos if info),
        media_type=MEDIA_OCI_MANIFEST,
    )
    return store.images.add(manifest, image_config, names)


def run_cli(root: Path, *args: str, input: bytes | None = None) -> Result:  # noqa: A002 - click's name
    return CliRunner().invoke(cli, ["--root", str(root), *args], input=input, catch_exceptions=False)


def store_listing(root: Path) -> list[tuple[str, int]]:
    """Every path under the store root with its size (files) or -1 (dirs), SQLite's WAL files aside."""
    listing = []
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if relative.endswith(("-wal", "-shm")):
            continue  # SQLite's journal files change size when a reader checkpoints
        listing.append((relative, path.stat().st_size if path.is_file() else -1))
    return listing
