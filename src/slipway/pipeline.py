"""The build pipeline: a Dockerfile and a context in, through the frontend, the solver and the exporter, an image
out (in the store by default; a registry, an archive or a directory with `output`), FROM images pulled by
policy, build cache shared through registries. `slipway.build` (the public API, slipway/_api/builds.py) and
`slipway build` call it:

    with Store.open(root) as store:
        outcome = build(BuildRequest(context=Path(".")), store=store, runtime=find_runtime(), events=sink)
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import msgspec

from slipway.choices import (
    PULL_POLICIES,
    ContainerNetwork,
    NetworkMode,
    PullPolicy,
    is_rootless,
)
from slipway.contexts import RemoteContext, local_request
from slipway.epoch import parse_epoch
from slipway.errors import BlobNotFound, ContextError, DiskFull, DockerfileError, UsageError
from slipway.export.cache_steps import export_caches, import_caches, inline_entries
from slipway.export.exporter import (
    ExportTarget,
    check_output,
    export_platform_results,
    export_result,
    output_names,
)
from slipway.export.image import ExportOptions, manifest_descriptor
from slipway.export.platforms import PlatformImage, check_platforms_output
from slipway.export.specs import CacheSpec, OutputSpec
from slipway.frontend.checks import CheckWarning, check_parsed, linter_for
from slipway.frontend.convert import ConvertOptions, convert
from slipway.frontend.directives import check_syntax
from slipway.frontend.files import dockerfile_path, read_file
from slipway.frontend.ignore import find_ignore_file, read_ignore_file
from slipway.frontend.named_contexts import NamedContext, context_source_name
from slipway.frontend.parser import ParsedDockerfile, parse
from slipway.frontend.source_epoch import RemoteEpoch
from slipway.graph.ops import BuildGraph, GitSource, HttpSource, ImageSource, Vertex, walk
from slipway.graph.run_limits import RunLimits
from slipway.image.oci import Descriptor, Digest
from slipway.image.platforms import format_platform, host_platform, parse_platform, split_platforms
from slipway.progress.events import BuildWarning, EventSink
from slipway.progress.failure import source_excerpt
from slipway.progress.warnings import SHOWN_WARNINGS, encode_warning
from slipway.registry.resolver import StoreResolver
from slipway.session.secrets import SecretSource, SecretValues, read_secrets
from slipway.session.ssh import SshSource, ssh_agents
from slipway.solver.memo import MemoPlan
from slipway.solver.results import CACHED_OPS, Result
from slipway.solver.session_mounts import SessionInputs
from slipway.solver.solve import SolveOptions, Solver
from slipway.store import ImageRecord, SnapshotRecord, Store
from slipway.store.memos import Memo, MemoStep
from slipway.worker.executor import Executor
from slipway.worker.runtime import Runtime

if TYPE_CHECKING:
    from slipway.registry.options import RegistryOptions

log = logging.getLogger(__name__)


class BuildRequest(msgspec.Struct, frozen=True):
    context: Path | RemoteContext  # a directory; stdin, a URL or a git repository are made one (contexts.py)
    dockerfile: Path | None = None  # default: CONTEXT/Dockerfile
    dockerfile_text: str | None = None  # `-f -`: the Dockerfile came on stdin
    tags: tuple[str, ...] = ()
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()
    network: NetworkMode = "default"
    platform: str | None = None  # os/arch[/variant], or several with commas; None: this machine's
    source_date_epoch: int | None = None  # SOURCE_DATE_EPOCH from the environment: times, layer files clamped
    compression: str | None = None  # None: deferred in the store, gzip when the image leaves the machine
    max_parallelism: int | None = None
    pull: PullPolicy = "missing"
    registry: RegistryOptions | None = None  # None: defaults (plain HTTP for loopback registries only)
    # --output (each, with --push and --load: export/specs.build_outputs): the store, by default
    outputs: tuple[OutputSpec, ...] = (OutputSpec(),)
    cache_to: tuple[CacheSpec, ...] = ()  # --cache-to: where this build's cache records go
    cache_from: tuple[CacheSpec, ...] = ()  # --cache-from: records to use after a local cache miss
    allow: tuple[str, ...] = ()  # --allow: entitlements granted (choices.ENTITLEMENTS)
    secrets: tuple[SecretSource, ...] = ()  # --secret: read when the build starts, kept in memory only
    ssh: tuple[SshSource, ...] = ()  # --ssh: agents lent to RUN --mount=type=ssh
    run_limits: RunLimits | None = None  # --add-host, --shm-size, --ulimit: for every RUN
    annotations: tuple[tuple[str, str], ...] = ()  # --annotation: the image manifest's
    build_contexts: tuple[
        str, ...
    ] = ()  # --build-context NAME=VALUE, resolved into named_contexts by build()
    named_contexts: tuple[NamedContext, ...] = ()
    context_epoch: int | None = None  # a context from outside: its own date (SOURCE_DATE_EPOCH=context)


class BuildOutcome(msgspec.Struct, frozen=True):
    image: ImageRecord | None  # None for type=local and type=tar outputs: they make no image
    graph: BuildGraph
    dockerfile_text: str
    pushed: tuple[tuple[str, Digest], ...] = ()  # (name, manifest digest) of each push
    snapshot: SnapshotRecord | None = None  # the final file system the image was made of
    names: tuple[str, ...] = ()  # the names the image now carries in the store, of those asked for
    index: Descriptor | None = None  # several platforms: their image index (`image` is the first platform's)
    manifest: Descriptor | None = None  # the image's manifest in the store (the index of several platforms)


def read_dockerfile(request: BuildRequest) -> tuple[str, str, Path | None]:
    """The Dockerfile's text, the name shown in errors, and its path (None when read from stdin)."""
    if request.dockerfile_text is not None:
        return request.dockerfile_text, "Dockerfile", None
    assert isinstance(request.context, Path)  # prepare(): local_request() made it local
    path = dockerfile_path(request.context, request.dockerfile)
    try:
        return read_file(path), str(path), path
    except FileNotFoundError as err:
        raise ContextError(f"no Dockerfile at {path}: name one with -f FILE") from err
    except IsADirectoryError as err:
        raise ContextError(f"{path} is a directory, not a Dockerfile") from err
    except PermissionError as err:
        raise ContextError(f"cannot read the Dockerfile {path}: {err.strerror}") from err


class Frontend(msgspec.Struct, frozen=True):
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
    request: BuildRequest,
    store: Store,
    events: EventSink | None,
    *,
    show_platform: bool = False,
    warn: bool = True,
) -> tuple[BuildGraph, str, tuple[BuildWarning, ...]]:
    """plan(), and the build checks' warnings (shown unless not `warn`)."""
    frontend = prepare(request, store, events, show_platform=show_platform)
    linter = linter_for(frontend.parsed, dict(request.build_args), frontend.exclude)
    remote_epoch = _remote_epoch(store)
    try:
        check_parsed(frontend.parsed, linter)
        graph = convert(
            frontend.parsed, frontend.options, frontend.resolver, linter, remote_epoch=remote_epoch
        )
    finally:
        warnings = warning_events(linter.warnings, frontend.text)
        if events is not None and warn:
            for warning in warnings:
                events.emit(warning)
    error = linter.error()  # `error=true`: warnings fail the build, before anything runs
    if error is not None:
        raise DockerfileError(error)
    return graph, frontend.text, warnings


def _remote_epoch(store: Store) -> RemoteEpoch:
    """Dates the URL of a SOURCE_DATE_EPOCH stage (frontend/source_epoch.py), downloaded into the store."""

    def epoch(url: str, checksum: str | None) -> int | None:
        from slipway.worker.sources import http_epoch  # httpx: only for the builds that need it

        with store.temp_dir("epoch") as tree:
            return http_epoch(HttpSource(url=url, filename="source", checksum=checksum), tree)

    return epoch


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
    request: BuildRequest,
    store: Store,
    events: EventSink | None = None,
    *,
    config_only: bool = False,
    show_platform: bool = False,
) -> Frontend:
    """Read and parse the request's Dockerfile and .dockerignore; the options of its conversion (and of the
    resolver of its images: `config_only` for an evaluation, which needs their configs only)."""
    if not isinstance(request.context, Path):
        raise UsageError("a remote build context is fetched by build(), within local_request()")
    try:
        is_directory = request.context.is_dir()
    except OSError as err:  # EACCES: a rootless user's build of a directory they may not read
        raise ContextError(f"build context {request.context}: {err.strerror}") from err
    if not is_directory:
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
        target_platform=request.platform
        if request.platform is not None
        else format_platform(host_platform()),
        build_platform=format_platform(host_platform()),  # where RUN steps run natively
        network=request.network,
        exclude=exclude,
        entitlements=frozenset(request.allow),
        show_platform=show_platform,
        run_limits=request.run_limits,
        named_contexts=request.named_contexts,
        context_epoch=request.context_epoch,
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
    """Build `request` (for each of its platforms); `stdout` receives an output whose dest is "-"
    (type=tar/docker/oci). With `memo` (the request's memo plan, solver/memo.py) a build that made an image
    leaves its memo in the store. A context from outside (stdin, a URL, git) and --build-context values are
    fetched into the store's tmp/ first, and removed when the build ends."""
    with local_request(request, store, events) as local:
        return _build_local(local, store=store, runtime=runtime, events=events, stdout=stdout, memo=memo)


def _build_local(
    request: BuildRequest,
    *,
    store: Store,
    runtime: Runtime,
    events: EventSink,
    stdout: BinaryIO | None,
    memo: MemoPlan | None,
) -> BuildOutcome:
    targets = _export_targets(request, stdout)
    secrets = read_secrets(request.secrets, os.environ)  # the caller's, as docker buildx reads them
    plans = _plan_platforms(request, store, events)
    graph, text, warnings = plans[0][1:]
    roots = [each.target.root for _, each, _, _ in plans]
    image: ImageRecord | None = None
    pushed: tuple[tuple[str, Digest], ...] = ()
    index: Descriptor | None = None
    manifest: Descriptor | None = None
    with ExitStack() as resources:
        solver, results = _solve(request, store, runtime, events, resources, roots, secrets)
        with store.lease():
            snapshot = solver.materialize(results[roots[0].digest]).snapshot
            items = [
                PlatformImage(
                    platform, each.target, solver.materialize(results[each.target.root.digest]).snapshot
                )
                for platform, each, _, _ in plans
            ]
            inline = inline_entries(request.cache_to, roots, results, solver.materialize)
            for target in targets:  # the image the build reports: the first output's that made one
                made, made_pushed, made_index = _export(store, items, target(graph, inline), events, stdout)
                image, index = image or made, index or made_index
                pushed += made_pushed
            manifest = index or _manifest_of(store, image, pushed)
            export_caches(
                store,
                request.cache_to,
                roots,
                results,
                solver.materialize,
                export_options(request, graph, request.outputs[0]),
                request.registry,
                events,
            )
    # The names the image carries in the store, of those an output that keeps it there was given.
    names = {
        name for output in request.outputs if output.tags_store for name in output_names(request.tags, output)
    }
    kept = tuple(name for name in image.names if name in names) if image else ()
    # A memo row stays small; an epoch a stage's URL gave is asked for again on every build.
    if (
        memo is not None
        and image is not None
        and index is None
        and len(warnings) <= SHOWN_WARNINGS
        and graph.epoch_url is None
    ):
        try:
            _remember(store, memo, roots[0], results, image, kept, warnings)
        except DiskFull as err:  # the image is built: only the next no-op rebuild's shortcut is lost
            log.debug("no build memo: %s", err)
    if any(output.type in ("docker", "oci") for output in request.outputs) or request.cache_to:
        # The config and manifest blobs written for an archive or a cache export belong to no image here.
        store.gc_if_idle()
    return BuildOutcome(
        image=image,
        graph=graph,
        dockerfile_text=text,
        pushed=pushed,
        snapshot=snapshot,
        names=kept,
        index=index,
        manifest=manifest,
    )


InlineEntries = tuple[tuple[str, int], ...]


def _export_targets(
    request: BuildRequest, stdout: BinaryIO | None
) -> list[Callable[[BuildGraph, InlineEntries], ExportTarget]]:
    """Each output's target once the build's graph (its epoch) and its steps (an inline cache's records) are
    known, checked before anything runs; the first output's export step is "export", the others' "export-N"."""

    def target(position: int, output: OutputSpec) -> Callable[[BuildGraph, InlineEntries], ExportTarget]:
        names = output_names(request.tags, output)
        check_output(output, names, stdout)
        step_id = "export" if position == 0 else f"export-{position}"
        return lambda graph, inline: ExportTarget(
            output,
            names,
            msgspec.structs.replace(export_options(request, graph, output), inline_cache=inline),
            request.registry,
            step_id,
        )

    return [target(position, output) for position, output in enumerate(request.outputs)]


def _export(
    store: Store,
    items: list[PlatformImage],
    target: ExportTarget,
    events: EventSink,
    stdout: BinaryIO | None,
) -> tuple[ImageRecord | None, tuple[tuple[str, Digest], ...], Descriptor | None]:
    """One output's export: the image (the first platform's), what was pushed, the index of several."""
    if len(items) == 1:
        image, pushed = export_result(store, items[0].stage, items[0].snapshot, target, events, stdout)
        return image, pushed, None
    exported = export_platform_results(store, items, target, events, stdout)
    return (exported.images or (None,))[0], exported.pushed, exported.index


def _manifest_of(
    store: Store, image: ImageRecord | None, pushed: tuple[tuple[str, Digest], ...]
) -> Descriptor | None:
    """The image's manifest as the store holds it, read while the build's lease holds it (an archive's is
    collected once the build ends); None for a pushed image (the registry's manifest is another) or none."""
    if image is None or pushed:
        return None
    try:
        return manifest_descriptor(store, image)
    except BlobNotFound:  # an output that keeps no image (a push alone)
        return None


def export_options(request: BuildRequest, graph: BuildGraph, output: OutputSpec) -> ExportOptions:
    """BuildKit's exporter epoch: the output's source-date-epoch= if given, else the environment's
    SOURCE_DATE_EPOCH, else the build's (--build-arg or ARG). The layers' file times are clamped to it with
    rewrite-timestamp=true; the environment's also clamps the snapshots' own layers (reproducible builds)."""
    if output.source_date_epoch is not None:
        epoch = parse_epoch(output.source_date_epoch)  # checked by parse_output
    elif request.source_date_epoch is not None:
        epoch = request.source_date_epoch
    else:
        epoch = graph.epoch
    return ExportOptions(
        compression=request.compression,  # type: ignore[arg-type]
        source_date_epoch=epoch,
        rewrite_timestamp=output.rewrite_timestamp,
        layer_epoch=request.source_date_epoch,
        annotations=request.annotations,
    )


def _plan_platforms(
    request: BuildRequest, store: Store, events: EventSink
) -> list[tuple[str, BuildGraph, str, tuple[BuildWarning, ...]]]:
    """The build graph for each platform asked (--platform a,b): one plan, or one per platform whose step
    names start with it; the build checks warn once."""
    asked = request.platform if request.platform is not None else format_platform(host_platform())
    # As BuildKit names them (its output directories, its step names): "linux/arm" is "linux/arm/v7".
    platforms = tuple(format_platform(parse_platform(text)) for text in split_platforms(asked))
    if len(platforms) == 1:
        return [(asked, *_checked_plan(request, store, events))]
    for output in request.outputs:
        check_platforms_output(output)
    return [
        (
            platform,
            *_checked_plan(
                msgspec.structs.replace(request, platform=platform),
                store,
                events,
                show_platform=True,
                warn=position == 0,
            ),
        )
        for position, platform in enumerate(platforms)
    ]


def _solve(
    request: BuildRequest,
    store: Store,
    runtime: Runtime,
    events: EventSink,
    resources: ExitStack,
    roots: list[Vertex],
    secrets: SecretValues,
) -> tuple[Solver, dict[str, Result]]:
    """Run the build graphs of `roots` (together: their steps in parallel where the graphs allow)."""
    remote_cache = None
    if request.cache_from and not request.no_cache:
        remote_cache = import_caches(store, request.cache_from, request.registry, events, resources)
    hold = resources.enter_context(store.leases.hold())  # what the build uses, kept until it is exported
    # The steps' records wait for their trees' background syncs: written before the hold ends, so no gc (of
    # this process or another) finds a step's snapshot neither held nor recorded.
    resources.callback(store.publish)
    with store.temp_dir("build") as work_dir, ssh_agents(request.ssh, work_dir) as agents:
        solver = Solver(
            store,
            Executor(runtime, work_dir, ledger=store.leases),
            events,
            msgspec.structs.replace(_solve_options(request), session=SessionInputs(secrets, agents)),
            work_dir,
            hold=hold,
            remote_cache=remote_cache,
        )
        return solver, solver.solve_all(*roots)


def _solve_options(request: BuildRequest) -> SolveOptions:
    assert isinstance(request.context, Path)  # local_request
    return SolveOptions(
        context_dir=request.context.resolve(),
        no_cache=request.no_cache,
        no_cache_stages=frozenset(stage.lower() for stage in request.no_cache_filter),
        max_parallelism=request.max_parallelism or SolveOptions(context_dir=request.context).max_parallelism,
        default_network=_default_network(request.network),
        named_dirs=tuple(
            (context_source_name(named), Path(named.value))
            for named in request.named_contexts
            if named.kind == "directory"
        ),
    )


def _default_network(network: NetworkMode) -> ContainerNetwork:
    """What RUN --network=default is: as the build's --network says; for its "default", the host's network as
    root (BuildKit's default sandbox is host-like), and rootless a private one with outbound access through
    slirp4netns (as rootless BuildKit's), or the host's where slirp4netns cannot run (BuildKit's "auto")."""
    if network == "default":
        if not is_rootless():
            return "host"
        from slipway.worker.network import private_network_available

        return "private" if private_network_available() else "host"
    return network


def _remember(
    store: Store,
    memo: MemoPlan,
    root: Vertex,
    results: dict[str, Result],
    image: ImageRecord,
    names: tuple[str, ...],
    warnings: tuple[BuildWarning, ...],
) -> None:
    """Leave the memo of this build (its image known by `names`, with its warnings, to show again), unless its
    graph reads the network."""
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
        elif isinstance(vertex.op, CACHED_OPS):  # the steps a cached build reports as CACHED
            steps.append(MemoStep(vertex.digest, vertex.meta.name, "step"))
            cache_keys.append(results[vertex.digest].cache_key)
    steps += [MemoStep("", encode_warning(warning), "warning") for warning in warnings]
    record = Memo(image_id=image.id, names=names, bases=tuple(sorted(bases.items())), steps=tuple(steps))
    store.memos.remember(memo.key, memo.fingerprint, record, cache_keys)
