"""Where a build's result goes: `--output`, with BuildKit's exporters and syntax.

    type=image[,name=N][,push=true]   the store, tagged with -t and name= (the default); push=true pushes
    type=registry[,name=N]            type=image,push=true
    type=docker,dest=FILE|-[,name=N]  a `docker load`-able archive (the image is not kept in the store)
    type=oci,dest=FILE|-[,name=N]     an OCI image layout tar
    type=local,dest=DIR               the final stage's files, whiteouts applied
    type=tar,dest=FILE|-              those files as one tar
    DIR                               type=local,dest=DIR ("-" alone: type=tar,dest=-)

The file trees come from a read-only overlay mount of the snapshot chain, packed with the layer packer (no
compression), so owners, modes, hardlinks and xattrs come out as they are in the image.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, Literal

from slipway.errors import ArchiveError, UsageError
from slipway.export._files import replace_file
from slipway.export.docker_archive import write_docker_archive
from slipway.export.image import ExportOptions, compose_index, compose_manifest
from slipway.export.oci_layout import write_oci_archive, write_oci_directory
from slipway.export.selection import ImageSelection
from slipway.export.specs import OUTPUT_TYPES, OutputSpec, OutputType, parse_output
from slipway.graph.ops import StagePlan
from slipway.image.layers import pack_layer, unpack_layer
from slipway.image.oci import (
    MEDIA_OCI_LAYER,
    Descriptor,
    encode_json,
)
from slipway.image.reference import parse_reference
from slipway.store import ImageRecord, SnapshotRecord, Store
from slipway.worker.snapshots import mounted

__all__ = [
    "OUTPUT_TYPES",
    "OutputSpec",
    "OutputType",
    "compose_image",
    "parse_output",
    "replace_file",
    "write_archive",
    "write_layout_directory",
    "write_index_archive",
    "write_tree",
    "write_tree_tar",
    "write_trees_tar",
]

# --- images that are not kept in the store -------------------------------------------------------------------


def compose_image(
    store: Store, stage: StagePlan, snapshot: SnapshotRecord | None, options: ExportOptions
) -> ImageRecord:
    """The image export_image would store, with its blobs in the store but no image record (no name, no entry
    in `slipway images`): for archives. The same bytes as export_image's, so the same digests."""
    manifest, config, layers = compose_manifest(store, stage, snapshot, options)
    manifest_digest = store.blobs.put(encode_json(manifest))
    return ImageRecord(
        id=manifest.config.digest,
        manifest_digest=manifest_digest,
        manifest=manifest,
        config=config,
        names=(),
        created=config.created or "",
        size=sum(layer.shown_size for layer in layers),
    )


def write_archive(
    store: Store, image: ImageRecord, names: Sequence[str], kind: Literal["docker", "oci"], out: BinaryIO
) -> None:
    selection = _selection(image, names)
    if kind == "docker":
        write_docker_archive(store, selection, out)
    else:
        write_oci_archive(store, selection, out)


def write_layout_directory(store: Store, image: ImageRecord, names: Sequence[str], dest: Path) -> None:
    """`-o type=oci,tar=false`: the OCI layout as a directory."""
    write_oci_directory(store, _selection(image, names), dest)


def _selection(image: ImageRecord, names: Sequence[str]) -> list[ImageSelection]:
    return [ImageSelection(image=image, names=tuple(str(parse_reference(name)) for name in names))]


def write_index_archive(
    store: Store, images: Sequence[ImageRecord], names: Sequence[str], out: BinaryIO
) -> Descriptor:
    """An OCI layout archive of one image index of `images` (one per platform) under `names`; its descriptor."""
    named = tuple(str(parse_reference(name)) for name in names)
    write_oci_archive(store, [ImageSelection(image=images[0], names=named, platforms=tuple(images))], out)
    return compose_index(store, images)[1]


# --- file trees ----------------------------------------------------------------------------------------------


@contextmanager
def _mounted_tree(store: Store, snapshot: SnapshotRecord | None) -> Iterator[Path]:
    """The file system of `snapshot` as one read-only directory (empty for FROM scratch)."""
    with store.temp_dir("output") as work:
        plan = store.snapshots.view(snapshot.id if snapshot else None)
        with mounted(plan, work / "rootfs", ledger=store.leases) as view:
            yield view


def write_tree_tar(
    store: Store, snapshot: SnapshotRecord | None, out: BinaryIO, source_date_epoch: int | None
) -> None:
    """The final file system as one uncompressed tar (type=tar); deterministic, mtimes clamped to the epoch."""
    with _mounted_tree(store, snapshot) as view:
        pack_layer(view, out, compression="none", source_date_epoch=source_date_epoch)


def write_trees_tar(
    store: Store,
    trees: Sequence[tuple[str, SnapshotRecord | None]],
    out: BinaryIO,
    source_date_epoch: int | None,
) -> None:
    """Several final file systems as one tar, each under its directory name (type=tar of several platforms)."""
    with store.temp_dir("output") as work, ExitStack() as mounts:
        top = work / "trees"
        for name, snapshot in trees:
            plan = store.snapshots.view(snapshot.id if snapshot else None)
            mounts.enter_context(mounted(plan, top / name, ledger=store.leases))
        pack_layer(top, out, compression="none", source_date_epoch=source_date_epoch)


def write_tree(store: Store, snapshot: SnapshotRecord | None, dest: Path) -> None:
    """The final file system copied into `dest` (type=local), made if missing; files already there stay unless
    the image has the same path."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--output type=local,dest={dest}: {dest} exists and is not a directory")
    dest.mkdir(parents=True, exist_ok=True)  # before anything is packed: a bad dest fails on its own error
    with _mounted_tree(store, snapshot) as view:
        _copy_through_pipe(view, dest)


def _copy_through_pipe(view: Path, dest: Path) -> None:
    # Packed and unpacked at once through a pipe: no second copy on disk, and the unpacker's rules (nothing
    # lands outside dest, owners and xattrs kept) apply to what is written.
    read_fd, write_fd = os.pipe()
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_fd, "wb") as out:
                pack_layer(view, out, compression="none")
        except BaseException as err:  # reported by the consumer below, in the calling thread
            failures.append(err)

    producer = threading.Thread(target=produce, name="slipway-output-pack", daemon=True)
    producer.start()
    try:
        with open(read_fd, "rb") as reader:
            try:
                unpack_layer(reader, MEDIA_OCI_LAYER, dest, whiteouts="apply")
            finally:
                reader.close()  # a producer blocked on a full pipe gets EPIPE and ends
                producer.join()
    except ArchiveError as err:
        # A pack failure reaches the unpacker as a truncated tar: report the cause.
        if failures:
            raise failures[0] from err
        raise
    if failures:
        raise failures[0]


# --- destinations --------------------------------------------------------------------------------------------
