"""A build for several platforms (`--platform linux/amd64,linux/arm64`): one image per platform, exported together.

type=image            each platform's image in the store; every name holds exactly these (one per platform)
type=registry, push   each image pushed by digest, then their OCI image index under each name's tag
type=oci              an OCI layout whose index.json names the image index (with the names' annotations)
type=local, type=tar  each platform's files under a directory named for it ("linux_arm64", as BuildKit)
type=docker           refused: a docker archive holds no index (BuildKit refuses it too)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

import msgspec

from slipway.errors import UsageError
from slipway.export.image import ExportOptions, compose_index, export_image
from slipway.export.specs import OutputSpec
from slipway.graph.ops import StagePlan
from slipway.image.oci import Descriptor, Digest
from slipway.store import ImageRecord, SnapshotRecord, Store

__all__ = [
    "PlatformImage",
    "PlatformsExport",
    "check_platforms_output",
    "export_platforms",
    "platform_directory",
]


class PlatformImage(msgspec.Struct, frozen=True):
    """One platform's result: its final stage and that stage's snapshot."""

    platform: str  # os/arch[/variant] as the build was asked for it
    stage: StagePlan
    snapshot: SnapshotRecord | None


class PlatformsExport(msgspec.Struct, frozen=True):
    images: tuple[ImageRecord, ...]  # one per platform, in the order asked (empty for local and tar)
    index: Descriptor | None  # the OCI image index of `images` (as kept in the store, or as pushed)
    pushed: tuple[tuple[str, Digest], ...] = ()  # (name, index digest) of each push


def check_platforms_output(output: OutputSpec) -> None:
    """What a multi-platform build cannot give, said before it runs."""
    if output.type == "docker":
        raise UsageError(
            "--output type=docker: a docker archive holds one platform's image, not an index; build one "
            "--platform, or export the index with --output type=oci"
        )


def platform_directory(platform: str) -> str:
    """The directory of a platform's files in a local or tar output: its name with "_" for "/"."""
    return platform.replace("/", "_")


def export_platforms(
    store: Store,
    output: OutputSpec,
    names: Sequence[str],
    items: Sequence[PlatformImage],
    options: ExportOptions,
    *,
    open_destination: Callable[[], AbstractContextManager[BinaryIO]],
    push: Callable[[Sequence[ImageRecord], str], Digest],
) -> PlatformsExport:
    """Export `items` as `output` says. `open_destination`: a context manager giving the archive's stream (tar,
    oci); `push(images, name)`: pushes an index of `images` as `name`, returning its digest."""
    match output.type:
        case "image" | "registry":
            images = tuple(export_image(store, item.stage, item.snapshot, (), options) for item in items)
            for name in names:
                store.images.set_members(name, images)
            images = tuple(store.images.resolve(image.id) for image in images)  # with their names now
            _, index = compose_index(store, images)
            pushed = tuple((name, push(images, name)) for name in names) if output.push else ()
            return PlatformsExport(images, index, pushed)
        case "oci":
            return _write_oci(store, names, items, options, open_destination)
        case "local":
            from slipway.export.outputs import write_tree

            assert output.dest is not None  # parse_output requires it
            for item in items:
                write_tree(store, item.snapshot, Path(output.dest) / platform_directory(item.platform))
            return PlatformsExport((), None)
        case "tar":
            from slipway.export.outputs import write_trees_tar

            with open_destination() as out:
                trees = [(platform_directory(item.platform), item.snapshot) for item in items]
                write_trees_tar(store, trees, out, options.source_date_epoch)
            return PlatformsExport((), None)
        case "docker":
            raise AssertionError("check_platforms_output refused it")


def _write_oci(
    store: Store,
    names: Sequence[str],
    items: Sequence[PlatformImage],
    options: ExportOptions,
    open_destination: Callable[[], AbstractContextManager[BinaryIO]],
) -> PlatformsExport:
    from slipway.export.outputs import compose_image, write_index_archive

    images = tuple(
        compose_image(store, item.stage, item.snapshot, options.for_distribution()) for item in items
    )
    with open_destination() as out:
        index = write_index_archive(store, images, names, out)
    return PlatformsExport(images, index)
