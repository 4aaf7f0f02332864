"""The public build API: a Dockerfile and a context in, an image out (in the store by default; a registry, an
archive or a directory with `output`), FROM images pulled by policy, build cache shared through registries.

    with Store.open(root) as store:
        outcome = build(BuildRequest(context=Path(".")), store=store, runtime=find_runtime(), events=sink)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, assert_never

import msgspec

from slipway.choices import DEFAULT_PLATFORM, EXPORT_STEP_NAMES, PULL_POLICIES, NetworkMode, PullPolicy
from slipway.errors import (
    ArchiveError,
    ContextError,
    DiskFull,
    DockerfileError,
    ExportError,
    ImageNotFound,
    RegistryError,
    SlipwayError,
    UsageError,
)
from slipway.export.image import ExportOptions, export_image
from slipway.export.specs import CacheSpec, OutputSpec
from slipway.frontend.checks import CheckWarning, check_parsed, linter_for
from slipway.frontend.convert import BaseImage, ConvertOptions, convert
from slipway.frontend.directives import check_syntax
from slipway.frontend.files import dockerfile_path, read_file
from slipway.frontend.ignore import find_ignore_file, read_ignore_file
from slipway.frontend.parser import ParsedDockerfile, parse
from slipway.graph.ops import (
    BuildGraph,
    Copy,
    Exec,
    GitSource,
    HttpSource,
    ImageSource,
    Mkdir,
    StagePlan,
    Vertex,
    walk,
)
from slipway.image.oci import Digest, ImageConfig
from slipway.image.reference import parse_reference
from slipway.progress.events import BuildMessage, BuildWarning, Discard, EventSink, StepReporter, step
from slipway.progress.failure import source_excerpt
from slipway.progress.warnings import SHOWN_WARNINGS, encode_warning
from slipway.solver.memo import MemoPlan
from slipway.solver.results import Result
from slipway.solver.solve import SolveOptions, Solver
from slipway.store import ImageRecord, SnapshotRecord, Store, naming_disk_full
from slipway.store.memos import Memo, MemoStep
from slipway.worker.executor import Executor
from slipway.worker.runtime import Runtime

if TYPE_CHECKING:
    from slipway.export.cache import CacheImport

    # slipway.registry brings httpx (about 0.2 s to import): only builds that reach a registry pay for it.
    from slipway.registry import RegistryOptions

log = logging.getLogger(__name__)


class BuildRequest(msgspec.Struct, frozen=True):
    context: Path
    dockerfile: Path | None = None  # default: CONTEXT/Dockerfile
    dockerfile_text: str | None = None  # `-f -`: the Dockerfile came on stdin
    tags: tuple[str, ...] = ()
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()
    network: NetworkMode = "default"
    platform: str = DEFAULT_PLATFORM
    source_date_epoch: int | None = None
    compression: str | None = None  # None: deferred in the store, gzip when the image leaves the machine
    max_parallelism: int | None = None
    pull: PullPolicy = "missing"
    registry: RegistryOptions | None = None  # None: defaults (plain HTTP for loopback registries only)
    output: OutputSpec = OutputSpec()  # --output (and --push): the store, by default
    cache_to: tuple[CacheSpec, ...] = ()  # --cache-to: where this build's cache records go
    cache_from: tuple[CacheSpec, ...] = ()  # --cache-from: records to use after a local cache miss
    allow: tuple[str, ...] = ()  # --allow: entitlements granted (choices.ENTITLEMENTS)


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    image: ImageRecord | None  # None for type=local and type=tar outputs: they make no image
    graph: BuildGraph
    dockerfile_text: str = field(repr=False)
    pushed: tuple[tuple[str, Digest], ...] = ()  # (name, manifest digest) of each push


class StoreResolver(msgspec.Struct, frozen=True):
    """Answers FROM and COPY --from image references from the local store, pulling them by `pull` policy
    (with `config_only`, an image to evaluate, not to build: from its registry only its config is fetched)."""

    store: Store
    pull: PullPolicy = "never"
    registry: RegistryOptions | None = None
    events: EventSink | None = None
    config_only: bool = False

    def resolve(self, ref: str, platform: str) -> BaseImage:
        if self.pull == "always":
            try:
                image = self._pull(ref, platform)
            except RegistryError as err:
                raise RegistryError(f"cannot check {ref} for a newer version (--pull): {err}") from err
        else:
            image = self._local(ref, platform)
        try:
            name = str(parse_reference(ref))
        except Exception:  # an image ID: keep it as written
            name = ref
        return BaseImage(ref=name, manifest_digest=image[0], config=image[1])

    def _local(self, ref: str, platform: str) -> tuple[Digest, ImageConfig]:
        try:
            image = self.store.images.resolve(ref)
            return image.manifest_digest, image.config
        except ImageNotFound as err:
            if self.pull == "never":
                raise ImageNotFound(
                    f"image {ref!r} is not in the local store and the pull policy is never; get it with "
                    f"`slipway pull {ref}`, `slipway load -i FILE` or `slipway import ROOTFS.tar {ref}`"
                ) from err
        try:
            return self._pull(ref, platform)
        except RegistryError as err:
            raise ImageNotFound(
                f"image {ref!r} is not in the local store, and pulling it failed: {err}"
            ) from err

    def _pull(self, ref: str, platform: str) -> tuple[Digest, ImageConfig]:
        from slipway.registry import RegistryOptions, fetch_image_config, pull_image

        options = self.registry or RegistryOptions()
        name = f"[internal] load metadata for {parse_reference(ref)}"
        with step(self.events or Discard(), f"pull:{ref}", name) as pulling:
            if self.config_only:
                return fetch_image_config(self.store, ref, platform=platform, options=options)
            image = pull_image(self.store, ref, platform=platform, options=options, on_event=pulling.log)
            return image.manifest_digest, image.config


def read_dockerfile(request: BuildRequest) -> tuple[str, str, Path | None]:
    """The Dockerfile's text, the name shown in errors, and its path (None when read from stdin)."""
    if request.dockerfile_text is not None:
        return request.dockerfile_text, "Dockerfile", None
    path = dockerfile_path(request.context, request.dockerfile)
    try:
        return read_file(path), str(path), path
    except FileNotFoundError as err:
        raise ContextError(f"no Dockerfile at {path}: name one with -f FILE") from err
    except IsADirectoryError as err:
        raise ContextError(f"{path} is a directory, not a Dockerfile") from err


class Frontend(NamedTuple):
    """What the frontend reads of a build request: the parsed Dockerfile (and its text), the conversion's
    options, the resolver of its images and the .dockerignore patterns."""

    parsed: ParsedDockerfile
    text: str
    options: ConvertOptions
    resolver: StoreResolver
    exclude: tuple[str, ...]


def plan(request: BuildRequest, store: Store, events: EventSink | None = None) -> tuple[BuildGraph, str]:
    """The build graph of `request` and the Dockerfile's text; the build checks' warnings go to `events`."""
    graph, text, _ = _checked_plan(request, store, events)
    return graph, text


def _checked_plan(
    request: BuildRequest, store: Store, events: EventSink | None
) -> tuple[BuildGraph, str, tuple[BuildWarning, ...]]:
    """plan(), and the build checks' warnings."""
    frontend = prepare(request, store, events)
    linter = linter_for(frontend.parsed, dict(request.build_args), frontend.exclude)
    try:
        check_parsed(frontend.parsed, linter)
        graph = convert(frontend.parsed, frontend.options, frontend.resolver, linter)
    finally:
        warnings = warning_events(linter.warnings, frontend.text)
        if events is not None:
            for warning in warnings:
                events.emit(warning)
    error = linter.error()  # `error=true`: warnings fail the build, before anything runs
    if error is not None:
        raise DockerfileError(error)
    return graph, frontend.text, warnings


def warning_events(warnings: Iterable[CheckWarning], text: str) -> tuple[BuildWarning, ...]:
    """The build checks' warnings as progress events, each with the Dockerfile's lines it points at."""
    lines = text.split("\n")
    return tuple(
        BuildWarning(
            rule=warning.rule.name,
            detail=warning.detail,
            description=warning.rule.description,
            url=warning.rule.url,
            path=warning.location.path,
            line=warning.location.line,
            end_line=warning.location.end_line,
            excerpt=tuple(source_excerpt(lines, warning.location)),
            at=time.time(),
        )
        for warning in warnings
    )


def prepare(
    request: BuildRequest, store: Store, events: EventSink | None = None, *, config_only: bool = False
) -> Frontend:
    """Read and parse the request's Dockerfile and .dockerignore; the options of its conversion (and of the
    resolver of its images: `config_only` for an evaluation, which needs their configs only)."""
    if not request.context.is_dir():
        raise ContextError(f"build context {request.context} is not a directory")
    text, shown_name, path = read_dockerfile(request)
    parsed = parse(text, path=shown_name)
    check_syntax(parsed, text)
    ignore_file = find_ignore_file(request.context, path or dockerfile_path(request.context, None))
    exclude = read_ignore_file(read_file(ignore_file)) if ignore_file else ()
    options = ConvertOptions(
        dockerfile=shown_name,
        target=request.target,
        build_args=request.build_args,
        labels=request.labels,
        target_platform=request.platform,
        build_platform=request.platform,
        network=request.network,
        exclude=exclude,
        entitlements=frozenset(request.allow),
    )
    if request.pull not in PULL_POLICIES:
        raise UsageError(f"pull policy {request.pull!r}: expected one of {', '.join(PULL_POLICIES)}")
    resolver = StoreResolver(
        store, pull=request.pull, registry=request.registry, events=events, config_only=config_only
    )
    return Frontend(parsed, text, options, resolver, exclude)


def build(
    request: BuildRequest,
    *,
    store: Store,
    runtime: Runtime,
    events: EventSink,
    stdout: BinaryIO | None = None,
    memo: MemoPlan | None = None,
) -> BuildOutcome:
    """Build `request`; `stdout` receives an output whose dest is "-" (type=tar/docker/oci). With `memo` (the
    request's memo plan, solver/memo.py) a build that made an image leaves its memo in the store."""
    names = _output_names(request)
    _check_output(request.output, names, stdout)
    graph, text, warnings = _checked_plan(request, store, events)
    options = SolveOptions(
        context_dir=request.context.resolve(),
        no_cache=request.no_cache,
        no_cache_stages=frozenset(stage.lower() for stage in request.no_cache_filter),
        max_parallelism=request.max_parallelism or SolveOptions(context_dir=request.context).max_parallelism,
        default_network="none" if request.network == "none" else "host",
    )
    export = ExportOptions(compression=request.compression, source_date_epoch=request.source_date_epoch)  # type: ignore[arg-type]
    root = graph.target.root
    with ExitStack() as resources:
        remote_cache = _import_caches(request, store, events, resources)
        hold = resources.enter_context(store.leases.hold())  # what the build uses, kept until it is exported
        with store.temp_dir("build") as work_dir:
            solver = Solver(
                store,
                Executor(runtime, work_dir, ledger=store.leases),
                events,
                options,
                work_dir,
                hold=hold,
                remote_cache=remote_cache,
            )
            results = solver.solve_all(root)
        with store.lease():
            snapshot = solver.materialize(results[root.digest]).snapshot
            image, pushed = _export(request, names, store, graph.target, snapshot, export, events, stdout)
            for index, spec in enumerate(request.cache_to):
                entries = _cache_entries(root, results, spec, solver.materialize)
                _export_cache(index, spec, entries, request, store, export, events)
    if memo is not None and image is not None and len(warnings) <= SHOWN_WARNINGS:  # a memo row stays small
        try:
            _remember(store, memo, root, results, image, names, warnings)
        except DiskFull as err:  # the image is built: only the next no-op rebuild's shortcut is lost
            log.debug("no build memo: %s", err)
    if request.output.type in ("docker", "oci") or request.cache_to:
        # The config and manifest blobs written for an archive or a cache export belong to no image here.
        store.gc_if_idle()
    return BuildOutcome(image=image, graph=graph, dockerfile_text=text, pushed=pushed)


def _remember(
    store: Store,
    memo: MemoPlan,
    root: Vertex,
    results: dict[str, Result],
    image: ImageRecord,
    names: tuple[str, ...],
    warnings: tuple[BuildWarning, ...],
) -> None:
    """Leave the memo of this build (with its warnings, to show again), unless its graph reads the network."""
    steps = []
    bases = {}
    cache_keys = []
    for vertex in walk(root):
        if isinstance(vertex.op, HttpSource | GitSource):
            # The graph is the authority: an ADD of a URL reached through an ARG, a continuation line or
            # a base image's ONBUILD re-checks its content on every build, so no memo may answer for it.
            return
        if isinstance(vertex.op, ImageSource):
            bases[vertex.op.ref] = vertex.op.manifest_digest
            steps.append(MemoStep(vertex.digest, vertex.meta.name, "source"))
        elif isinstance(vertex.op, _STEP_OPS):  # the steps a cached build reports as CACHED
            steps.append(MemoStep(vertex.digest, vertex.meta.name, "step"))
            cache_keys.append(results[vertex.digest].cache_key)
    shown = tuple(name for name in image.names if name in names)  # as the build reports them
    steps += [MemoStep("", encode_warning(warning), "warning") for warning in warnings]
    record = Memo(image_id=image.id, names=shown, bases=tuple(sorted(bases.items())), steps=tuple(steps))
    store.memos.remember(memo.key, memo.fingerprint, record, cache_keys)


# -- the build cache across machines ---------------------------------------------------------------------------

_STEP_OPS = (Exec, Copy, Mkdir)  # the vertices whose results are cache records (sources are never looked up)


def _import_caches(
    request: BuildRequest, store: Store, events: EventSink, resources: ExitStack
) -> CacheImport | None:
    """Every --cache-from's records; one that cannot be read is a warning, as in BuildKit, not a failure."""
    if not request.cache_from or request.no_cache:
        return None
    from slipway.export.cache import CacheImport  # only now: it imports the archive readers and more

    imported = resources.enter_context(CacheImport(store, request.registry))
    for index, spec in enumerate(request.cache_from):
        unread: SlipwayError | None = None
        with step(
            events, f"cache-import-{index}", f"importing cache manifest from {spec.describe()}"
        ) as importing:
            try:
                importing.log(f"{imported.add(spec)} cache records")
            except (RegistryError, ArchiveError) as err:
                unread = err
        if unread is not None:
            warning = f"WARNING: --cache-from {spec.text}: {unread}; building without it"
            events.emit(BuildMessage(text=warning, at=time.time()))
    return imported


def _cache_entries(
    root: Vertex, results: dict[str, Result], spec: CacheSpec, materialize: Callable[[Result], Result]
) -> list[tuple[str, SnapshotRecord]]:
    """mode=min: the steps whose layers make the final image (the chain of inputs[0] from the target);
    mode=max: every step the build ran, in every stage, those feeding COPY --from and RUN --mount too."""
    if spec.mode == "max":
        vertices = [vertex for vertex in walk(root) if isinstance(vertex.op, _STEP_OPS)]
    else:
        vertices = []
        vertex = root
        while isinstance(vertex.op, _STEP_OPS):
            vertices.append(vertex)
            vertex = vertex.inputs[0]
    entries = []
    for vertex in vertices:
        result = materialize(results[vertex.digest])
        if result.snapshot is not None:
            entries.append((result.cache_key, result.snapshot))
    return entries


def _export_cache(
    index: int,
    spec: CacheSpec,
    entries: list[tuple[str, SnapshotRecord]],
    request: BuildRequest,
    store: Store,
    options: ExportOptions,
    events: EventSink,
) -> None:
    from slipway.export.cache import export_cache

    target = "registry" if spec.type == "registry" else "client directory"
    with step(events, f"cache-export-{index}", f"exporting cache to {target}") as exporting:
        export_cache(
            store,
            entries,
            spec,
            options.for_distribution(),
            registry=request.registry,
            on_event=exporting.log,
        )


# -- outputs --------------------------------------------------------------------------------------------------


def _output_names(request: BuildRequest) -> tuple[str, ...]:
    """-t and the output's name=, normalized, each once."""
    return tuple(dict.fromkeys(str(parse_reference(name)) for name in request.tags + request.output.names))


def _check_output(output: OutputSpec, names: tuple[str, ...], stdout: BinaryIO | None) -> None:
    """What can be known wrong before the build runs."""
    if output.push and not names:
        raise UsageError(
            "pushing needs a name to push to: -t REGISTRY/REPOSITORY[:TAG] (or name= in --output)"
        )
    if output.to_stdout and stdout is None:
        raise UsageError(f"--output type={output.type},dest=- needs a stream for stdout")


def _export(
    request: BuildRequest,
    names: tuple[str, ...],
    store: Store,
    stage: StagePlan,
    snapshot: SnapshotRecord | None,
    options: ExportOptions,
    events: EventSink,
    stdout: BinaryIO | None,
) -> tuple[ImageRecord | None, tuple[tuple[str, Digest], ...]]:
    name = EXPORT_STEP_NAMES[request.output.type]
    with step(events, "export", name) as exporting, naming_disk_full(store.root, name):
        return _write_output(request, names, store, stage, snapshot, options, exporting, stdout)


def _write_output(
    request: BuildRequest,
    names: tuple[str, ...],
    store: Store,
    stage: StagePlan,
    snapshot: SnapshotRecord | None,
    options: ExportOptions,
    exporting: StepReporter,
    stdout: BinaryIO | None,
) -> tuple[ImageRecord | None, tuple[tuple[str, Digest], ...]]:
    output = request.output
    match output.type:
        case "image" | "registry":
            image = export_image(store, stage, snapshot, names, options)
            return image, _push(store, image, names, request.registry, exporting) if output.push else ()
        case "docker" | "oci":
            from slipway.export.outputs import compose_image, write_archive  # the archive writers: only now

            image = compose_image(store, stage, snapshot, options.for_distribution())
            with _destination(output, stdout) as out:
                write_archive(store, image, names, output.type, out)
            return image, ()
        case "tar":
            from slipway.export.outputs import write_tree_tar

            with _destination(output, stdout) as out:
                write_tree_tar(store, snapshot, out, options.source_date_epoch)
            return None, ()
        case "local":
            from slipway.export.outputs import write_tree

            assert output.dest is not None  # parse_output requires it
            with _writing(output):
                write_tree(store, snapshot, Path(output.dest))
            return None, ()
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
            assert stdout is not None  # _check_output
            yield stdout
            stdout.flush()
            return
        assert output.dest is not None
        with replace_file(Path(output.dest)) as out:
            yield out


def _push(
    store: Store,
    image: ImageRecord,
    names: tuple[str, ...],
    registry: RegistryOptions | None,
    exporting: StepReporter,
) -> tuple[tuple[str, Digest], ...]:
    from slipway.export.image import distributable
    from slipway.registry import RegistryOptions, push_image

    image = distributable(store, image)
    pushed = []
    for name in names:
        exporting.log(f"pushing {name}")
        options = registry or RegistryOptions()
        pushed.append((name, push_image(store, image, name, options=options, on_event=exporting.log)))
    return tuple(pushed)
