"""The export step of a build: its result written where `--output` (and `--push`) say: the store (tagged, and
pushed on request), a docker or OCI archive, a directory, or a tar of the final stage's files."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, assert_never

import msgspec

from slipway.choices import EXPORT_STEP_NAMES
from slipway.errors import ExportError, UsageError
from slipway.export.image import ExportOptions, compose_index, distributable, export_image
from slipway.export.platforms import PlatformImage, PlatformsExport, export_platforms
from slipway.export.specs import OutputSpec
from slipway.graph.ops import StagePlan
from slipway.image.oci import Digest
from slipway.image.reference import parse_reference
from slipway.progress.events import EventSink, StepReporter, step
from slipway.store import ImageRecord, SnapshotRecord, Store, naming_disk_full

if TYPE_CHECKING:
    from slipway.registry.options import RegistryOptions

__all__ = [
    "ExportTarget",
    "Exported",
    "check_output",
    "export_platform_results",
    "export_result",
    "output_names",
]


class ExportTarget(msgspec.Struct, frozen=True):
    """Where and how a build's result goes."""

    output: OutputSpec
    names: tuple[str, ...]  # output_names(): -t and name=, normalized
    options: ExportOptions
    registry: RegistryOptions | None = None  # None: defaults (plain HTTP for loopback registries only)
    step_id: str = "export"  # of its progress step: "export-1" and on for a build's further outputs


class Exported(NamedTuple):
    image: ImageRecord | None  # None for type=local and type=tar outputs: they make no image
    pushed: tuple[tuple[str, Digest], ...] = ()  # (name, manifest digest) of each push


def output_names(tags: tuple[str, ...], output: OutputSpec) -> tuple[str, ...]:
    """-t and the output's name=, normalized, each once."""
    return tuple(dict.fromkeys(str(parse_reference(name)) for name in tags + output.names))


def check_output(output: OutputSpec, names: tuple[str, ...], stdout: BinaryIO | None) -> None:
    """What can be known wrong before the build runs."""
    if output.push and not names:
        raise UsageError(
            "pushing needs a name to push to: -t REGISTRY/REPOSITORY[:TAG] (or name= in --output)"
        )
    if output.to_stdout and stdout is None:
        raise UsageError(f"--output type={output.type},dest=- needs a stream for stdout")


def export_result(
    store: Store,
    stage: StagePlan,
    snapshot: SnapshotRecord | None,
    target: ExportTarget,
    events: EventSink,
    stdout: BinaryIO | None = None,
) -> Exported:
    """The "export" step: the target stage's result (`snapshot`, its config from `stage`) written where `target`
    says; `stdout` receives an output whose dest is "-"."""
    name = EXPORT_STEP_NAMES[target.output.type]
    with step(events, target.step_id, name) as exporting, naming_disk_full(store.root, name):
        return _write_output(store, stage, snapshot, target, exporting, stdout)


def _write_output(
    store: Store,
    stage: StagePlan,
    snapshot: SnapshotRecord | None,
    target: ExportTarget,
    exporting: StepReporter,
    stdout: BinaryIO | None,
) -> Exported:
    output, names, options = target.output, target.names, target.options
    match output.type:
        case "image" | "registry":
            image = export_image(store, stage, snapshot, names, options)
            return Exported(image, _push(store, image, target, exporting) if output.push else ())
        case "docker" | "oci":
            from slipway.export.outputs import compose_image, write_archive, write_layout_directory

            image = compose_image(store, stage, snapshot, options.for_distribution())
            if not output.tar:
                assert output.dest is not None  # parse_output requires it
                with _writing(output):
                    write_layout_directory(store, image, names, Path(output.dest))
                return Exported(image)
            with _destination(output, stdout) as out:
                write_archive(store, image, names, output.type, out)
            return Exported(image)
        case "tar":
            from slipway.export.outputs import write_tree_tar

            with _destination(output, stdout) as out:
                write_tree_tar(store, snapshot, out, options.source_date_epoch)
            return Exported(None)
        case "local":
            from slipway.export.outputs import write_tree

            assert output.dest is not None  # parse_output requires it
            with _writing(output):
                write_tree(store, snapshot, Path(output.dest))
            return Exported(None)
        case _:
            assert_never(output.type)


@contextmanager
def _writing(output: OutputSpec) -> Iterator[None]:
    """OSError of a destination (a full disk, a read-only dir, a closed pipe) as an error a user can act on."""
    try:
        yield
    except OSError as err:
        where = "stdout" if output.to_stdout else output.dest
        raise ExportError(f"--output type={output.type}: cannot write {where}: {err}") from err


@contextmanager
def _destination(output: OutputSpec, stdout: BinaryIO | None) -> Iterator[BinaryIO]:
    from slipway.export.outputs import replace_file

    with _writing(output):
        if output.to_stdout:
            assert stdout is not None  # check_output
            yield stdout
            stdout.flush()
            return
        assert output.dest is not None
        with replace_file(Path(output.dest)) as out:
            yield out


def _push(
    store: Store, image: ImageRecord, target: ExportTarget, exporting: StepReporter
) -> tuple[tuple[str, Digest], ...]:
    from slipway.registry.options import RegistryOptions
    from slipway.registry.push import push_image  # httpx: only when pushing

    image = distributable(store, image)
    options = target.registry or RegistryOptions()
    pushed = []
    for name in target.names:
        exporting.log(f"pushing {name}")
        pushed.append((name, push_image(store, image, name, options=options, on_event=exporting.log)))
    return tuple(pushed)


def export_platform_results(
    store: Store,
    items: Sequence[PlatformImage],
    target: ExportTarget,
    events: EventSink,
    stdout: BinaryIO | None = None,
) -> PlatformsExport:
    """The "export" step of a build for several platforms: their results as one image index
    (export/platforms.py), written where `target` says."""
    output = target.output
    name = EXPORT_STEP_NAMES[output.type]
    with (
        step(events, target.step_id, name) as exporting,
        naming_disk_full(store.root, name),
        _writing(output),
    ):

        def push(images: Sequence[ImageRecord], name: str) -> Digest:
            return _push_index(store, images, name, target, exporting)

        return export_platforms(
            store,
            output,
            target.names,
            items,
            target.options,
            open_destination=lambda: _destination(output, stdout),
            push=push,
        )


def _push_index(
    store: Store, images: Sequence[ImageRecord], name: str, target: ExportTarget, exporting: StepReporter
) -> Digest:
    from slipway.registry.options import RegistryOptions
    from slipway.registry.push import push_index  # httpx: only when pushing

    shipped = [distributable(store, image) for image in images]
    body, _ = compose_index(store, shipped)
    exporting.log(f"pushing {name}")
    options = target.registry or RegistryOptions()
    return push_index(store, shipped, body, name, options=options, on_event=exporting.log)
