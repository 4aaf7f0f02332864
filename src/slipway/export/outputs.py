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

import csv
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from slipway.errors import ArchiveError, InvalidReference, UsageError
from slipway.export.docker_archive import write_docker_archive
from slipway.export.image import ExportOptions, image_config, image_layers
from slipway.export.oci_layout import write_oci_archive
from slipway.export.selection import ImageSelection
from slipway.graph.ops import StagePlan
from slipway.image.layers import pack_layer, unpack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    Manifest,
    encode_json,
)
from slipway.image.reference import parse_reference
from slipway.store import ImageRecord, SnapshotRecord, Store
from slipway.worker.snapshots import overlay_mount

__all__ = [
    "OUTPUT_TYPES",
    "OutputSpec",
    "OutputType",
    "compose_image",
    "parse_output",
    "replace_file",
    "with_push",
    "write_archive",
    "write_tree",
    "write_tree_tar",
]

OutputType = Literal["image", "registry", "docker", "oci", "local", "tar"]
OUTPUT_TYPES: tuple[OutputType, ...] = ("image", "registry", "docker", "oci", "local", "tar")
STDOUT = "-"

# The attributes each exporter takes, as BuildKit names them.
_ATTRIBUTES: dict[OutputType, tuple[str, ...]] = {
    "image": ("name", "push"),
    "registry": ("name", "push"),
    "docker": ("dest", "name"),
    "oci": ("dest", "name"),
    "local": ("dest",),
    "tar": ("dest",),
}


@dataclass(frozen=True, slots=True)
class OutputSpec:
    type: OutputType = "image"
    dest: str | None = None  # a path, or "-" for stdout (docker, oci, tar)
    names: tuple[str, ...] = ()  # name=, besides -t
    push: bool = False

    @property
    def makes_image(self) -> bool:
        """True when the output is an image (store, registry, archive), so it has an image ID."""
        return self.type in ("image", "registry", "docker", "oci")

    @property
    def tags_store(self) -> bool:
        """True when the image is kept in the store under its names (type=image and type=registry)."""
        return self.type in ("image", "registry")

    @property
    def to_stdout(self) -> bool:
        return self.dest == STDOUT


def parse_output(text: str, flag: str = "--output") -> OutputSpec:
    """BuildKit's CSV form (`type=oci,dest=out.tar`, quotes allowed: `"name=a,b"`), or a bare DIR / `-`."""
    fields = _csv_fields(text, flag)
    if len(fields) == 1 and "=" not in fields[0]:
        return OutputSpec(type="tar", dest=STDOUT) if fields[0] == STDOUT else OutputSpec(type="local", dest=fields[0])
    attributes = _attributes(fields, text, flag)
    kind = attributes.pop("type", None)
    if kind is None:
        raise UsageError(f"{flag} {text!r}: no type=; expected one of {', '.join(OUTPUT_TYPES)}")
    if kind not in OUTPUT_TYPES:
        raise UsageError(f"{flag} {text!r}: unknown type {kind!r}; expected one of {', '.join(OUTPUT_TYPES)}")
    output_type: OutputType = kind  # type: ignore[assignment]
    allowed = _ATTRIBUTES[output_type]
    for key in attributes:
        if key not in allowed:
            raise UsageError(
                f"{flag} {text!r}: type={output_type} has no attribute {key!r}; it takes {', '.join(allowed)}"
            )
    names = tuple(name.strip() for name in attributes.get("name", "").split(",") if name.strip())
    for name in names:
        try:
            parse_reference(name)
        except InvalidReference as err:
            raise UsageError(f"{flag} {text!r}: name {name!r}: {err}") from err
    push = _boolean(attributes.get("push", "false"), flag, text) or output_type == "registry"
    dest = attributes.get("dest")
    if output_type in ("docker", "oci", "local", "tar") and not dest:
        hint = "DIR" if output_type == "local" else "FILE (or dest=- for stdout)"
        raise UsageError(f"{flag} {text!r}: type={output_type} needs dest={hint}")
    if output_type == "local" and dest == STDOUT:
        raise UsageError(f"{flag} {text!r}: type=local writes a directory; for stdout use type=tar,dest=-")
    return OutputSpec(type=output_type, dest=dest, names=names, push=push)


def with_push(spec: OutputSpec) -> OutputSpec:
    """`--push`: as buildx, push=true on an image output; no other output can be pushed."""
    if spec.type not in ("image", "registry"):
        raise UsageError(f"--push and --output type={spec.type} cannot be used together (push needs type=image)")
    return OutputSpec(type=spec.type, dest=spec.dest, names=spec.names, push=True)


def _csv_fields(text: str, flag: str) -> list[str]:
    try:
        rows = list(csv.reader([text]))
    except csv.Error as err:
        raise UsageError(f"{flag} {text!r}: {err}") from err
    fields = [field.strip() for field in rows[0]] if rows else []
    if not fields or not any(fields):
        raise UsageError(f"{flag} needs a value, e.g. type=local,dest=DIR")
    return fields


def _attributes(fields: Sequence[str], text: str, flag: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for field in fields:
        key, separator, value = field.partition("=")
        key = key.strip().lower()
        if not separator or not key:
            raise UsageError(f"{flag} {text!r}: {field!r} is not KEY=VALUE")
        attributes[key] = value.strip()
    return attributes


def _boolean(value: str, flag: str, text: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", ""):
        return True
    if lowered in ("false", "0"):
        return False
    raise UsageError(f"{flag} {text!r}: {value!r} is not true or false")


# --- images that are not kept in the store -------------------------------------------------------------------


def compose_image(
    store: Store, stage: StagePlan, snapshot: SnapshotRecord | None, options: ExportOptions
) -> ImageRecord:
    """The image export_image would store, with its blobs in the store but no image record (no name, no entry
    in `slipway images`): for archives. The same bytes as export_image's, so the same digests."""
    layers = image_layers(store, snapshot, options)
    config = image_config(stage, [layer.diff_id for layer in layers], _created(store, snapshot, options))
    config_bytes = encode_json(config)
    config_digest = store.put_blob(config_bytes)
    manifest = Manifest(
        config=Descriptor(media_type=MEDIA_OCI_CONFIG, digest=config_digest, size=len(config_bytes)),
        layers=tuple(layer.descriptor for layer in layers),
        media_type=MEDIA_OCI_MANIFEST,
    )
    manifest_digest = store.put_blob(encode_json(manifest))
    return ImageRecord(
        id=config_digest,
        manifest_digest=manifest_digest,
        manifest=manifest,
        config=config,
        names=(),
        created=config.created or "",
        size=sum(layer.uncompressed_size for layer in layers),
    )


def _created(store: Store, snapshot: SnapshotRecord | None, options: ExportOptions) -> int:
    # export_image's rule: SOURCE_DATE_EPOCH, else when the newest step of the image ran.
    if options.source_date_epoch is not None:
        return options.source_date_epoch
    if snapshot is None:
        return 0
    return int(max(record.created for record in store.snapshot_chain(snapshot.id)))


def write_archive(
    store: Store, image: ImageRecord, names: Sequence[str], kind: Literal["docker", "oci"], out: BinaryIO
) -> None:
    selection = [ImageSelection(image=image, names=tuple(str(parse_reference(name)) for name in names))]
    if kind == "docker":
        write_docker_archive(store, selection, out)
    else:
        write_oci_archive(store, selection, out)


# --- file trees ----------------------------------------------------------------------------------------------


@contextmanager
def _mounted_tree(store: Store, snapshot: SnapshotRecord | None) -> Iterator[Path]:
    """The file system of `snapshot` as one read-only directory (empty for FROM scratch)."""
    with store.temp_dir("output") as work:
        view = work / "rootfs"
        view.mkdir()
        if snapshot is None:
            yield view
            return
        lowers = [record.path for record in store.snapshot_chain(snapshot.id)]
        with overlay_mount(lowers, view) as mounted:
            yield mounted


def write_tree_tar(store: Store, snapshot: SnapshotRecord | None, out: BinaryIO, source_date_epoch: int | None) -> None:
    """The final file system as one uncompressed tar (type=tar); deterministic, mtimes clamped to the epoch."""
    with _mounted_tree(store, snapshot) as view:
        pack_layer(view, out, compression="none", source_date_epoch=source_date_epoch)


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


@contextmanager
def replace_file(path: Path) -> Iterator[BinaryIO]:
    """A file written beside `path` and renamed over it once the block succeeds: no half-written archive."""
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with open(handle, "wb") as out:
            yield out
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
