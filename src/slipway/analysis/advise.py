"""`slipway advise`: build a Dockerfile (or take an image), find what its final image ships that its program does
not need, and write a multi-stage Dockerfile whose final stage holds only the program and what it loads: FROM
scratch for a static ELF program, its loader, libraries (DT_NEEDED, found as the loader finds them), CA
certificates and passwd entries for a dynamic one. With `verify`, both images are built and run with the same
command, and the rewrite is offered only if they behave the same. A program it cannot shrink safely (a script,
no command, a build that fails, different behaviour) is declined with the reason, never rewritten blindly."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec

from slipway.analysis._analyze import ContentShare, analyze_layers
from slipway.analysis._elf import ElfProgram, ScriptProgram, inspect_program
from slipway.analysis._hints import Hint, fix_in_place_hints
from slipway.analysis._libraries import find_libraries, passwd_files
from slipway.analysis._read import extract_files, read_layers
from slipway.analysis._rewrite import RewritePlan, exec_form, render_dockerfile
from slipway.analysis._tree import Tree
from slipway.analysis._verify import RunOutput, compare_runs, run_captured
from slipway.errors import DockerfileError, SlipwayError
from slipway.frontend.parser import ParsedDockerfile, parse
from slipway.image.oci import DEFAULT_PATH, ContainerConfig
from slipway.progress.events import EventSink
from slipway.store import ImageRecord, Store
from slipway.worker.runtime import Runtime

__all__ = ["Advice", "AdviceRequest", "Verification", "advise"]

CA_BUNDLES = ("etc/ssl/certs/ca-certificates.crt", "etc/pki/tls/certs/ca-bundle.crt", "etc/ssl/cert.pem")
LOADER_CACHE = "etc/ld.so.cache"
NOTHING_TO_GAIN = 0.9  # a rewrite keeping this share of the image or more is not worth offering


@dataclass(frozen=True, slots=True)
class AdviceRequest:
    context: Path
    dockerfile: Path | None = None  # default CONTEXT/Dockerfile
    image: str | None = None  # advise on this image of the store instead of building
    build_args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    base: str = "scratch"  # the final stage's base
    verify: bool = False
    verify_command: tuple[str, ...] = ()  # default: the image's own ENTRYPOINT/CMD
    verify_timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class Verification:
    passed: bool
    reason: str  # why it failed ("" when it passed)
    command: tuple[str, ...]  # () for the images' own command
    original: RunOutput
    rewritten: RunOutput
    rewritten_image: str  # its ID
    rewritten_size: int


@dataclass(frozen=True, slots=True)
class Advice:
    image: str  # the original image's ID
    image_size: int
    program: str | None  # the path of the program the image runs, when found
    dockerfile: str | None  # the multi-stage Dockerfile; None when declined
    declined: str | None  # why there is no rewrite
    notes: tuple[str, ...] = ()  # what a user should know about the rewrite
    copies: tuple[str, ...] = ()  # what the final stage takes from the build stage
    copied_bytes: int = 0
    toolchains: tuple[ContentShare, ...] = ()  # build-time content the original ships
    hints: tuple[Hint, ...] = ()  # fixes in place, with the bytes at stake
    verification: Verification | None = None
    stages: tuple[str, ...] = field(default=())  # stage names of the original Dockerfile, for the pictures


def advise(request: AdviceRequest, *, store: Store, runtime: Runtime, events: EventSink) -> Advice:
    """Errors a user caused in the request itself (no such image, no Dockerfile) raise; a Dockerfile that fails
    to build, or an image that cannot be shrunk safely, comes back declined with the reason."""
    try:
        image, text, builder, stages = _original(request, store, runtime, events)
    except SlipwayError as err:
        if request.image is not None:
            raise
        return Advice(
            image="",
            image_size=0,
            program=None,
            dockerfile=None,
            declined=f"the Dockerfile does not build: {err}",
        )
    advice = _advice_for(request, store, image, text, builder)
    advice = replace(advice, stages=stages)
    if advice.dockerfile is None:
        return advice
    if not request.verify:
        return replace(
            advice, notes=(*advice.notes, "unverified: run with --verify to build and compare both images")
        )
    return _verified(request, store, runtime, events, image, advice)


def _original(
    request: AdviceRequest, store: Store, runtime: Runtime, events: EventSink
) -> tuple[ImageRecord, str | None, str, tuple[str, ...]]:
    """The image to shrink, the Dockerfile text (None for an image), what COPY --from names, the stage names."""
    if request.image is not None:
        image = store.images.resolve(request.image)
        return image, None, image.names[0] if image.names else image.id, ()
    from slipway.pipeline import BuildRequest, build

    outcome = build(
        BuildRequest(
            context=request.context,
            dockerfile=request.dockerfile,
            build_args=request.build_args,
            target=request.target,
        ),
        store=store,
        runtime=runtime,
        events=events,
    )
    assert outcome.image is not None  # the default output is an image in the store
    stages = tuple(stage.name or str(stage.index) for stage in outcome.graph.stages)
    return outcome.image, outcome.dockerfile_text, str(outcome.graph.target.index), stages


def _advice_for(
    request: AdviceRequest, store: Store, image: ImageRecord, text: str | None, builder: str
) -> Advice:
    layers = [layer.entries for layer in read_layers(store, image)]
    tree = Tree.of(layers)
    analysis = analyze_layers(image.id, image.id, layers, image.config.history)
    parsed = _parsed(text)
    base = Advice(
        image=image.id,
        image_size=analysis.size,
        program=None,
        dockerfile=None,
        declined=None,
        toolchains=analysis.toolchains(),
        hints=fix_in_place_hints(analysis, layers, tree, parsed),
    )
    config = image.config.config
    command = exec_form(tuple(config.entrypoint or ()) + tuple(config.cmd or ()))
    if not (config.entrypoint or config.cmd):
        return replace(
            base, declined="the image has no CMD or ENTRYPOINT, so nothing says what it runs; add one"
        )
    if command is None:
        return replace(base, declined="its command is a shell script (shell syntax in CMD/ENTRYPOINT): it needs "
                                      "the shell and whatever it calls; keep the base image")  # fmt: skip
    program = _find_program(tree, command[0], config)
    if program is None:
        return replace(base, declined=f"its program {command[0]!r} is not in the image")
    with store.temp_dir("advise") as work:
        return _plan_for_program(request, store, image, tree, text, builder, base, program, command, work)


def _plan_for_program(
    request: AdviceRequest,
    store: Store,
    image: ImageRecord,
    tree: Tree,
    text: str | None,
    builder: str,
    base: Advice,
    program: tuple[str, str],
    command: tuple[str, ...],
    work: Path,
) -> Advice:
    path, resolved = program
    base = replace(base, program="/" + path)
    extracted = extract_files(store, image, tree, [resolved], work)
    kind = inspect_program(extracted[resolved]) if resolved in extracted else None
    if isinstance(kind, ScriptProgram):
        return replace(base, declined=f"/{path} is a script run by {kind.interpreter}: it needs that interpreter "
                                      "and whatever it calls; keep the base image")  # fmt: skip
    if not isinstance(kind, ElfProgram):
        return replace(base, declined=f"/{path} is not an ELF program or a script the advisor understands")
    env = dict(item.partition("=")[::2] for item in image.config.config.env or ())
    needed = find_libraries(store, image, tree, resolved, kind, env.get("LD_LIBRARY_PATH", ""), work)
    if isinstance(needed, str):
        return replace(base, declined=needed)
    extras = [bundle for bundle in CA_BUNDLES if _exists(tree, bundle)]
    if not kind.is_static and _exists(tree, LOADER_CACHE):
        extras.append(LOADER_CACHE)
    copies = tuple(dict.fromkeys("/" + item for item in (path, *needed, *extras)))
    copied = sum(_size(tree, item) for item in copies)
    if copied >= NOTHING_TO_GAIN * base.image_size:
        return replace(base, copies=copies, copied_bytes=copied,
                       declined="nothing to gain: the image holds little besides what its program needs")  # fmt: skip
    plan = RewritePlan(
        builder=builder,
        copies=copies,
        inline_files=passwd_files(store, image, tree, image.config.config.user or "", work),
        config=_carried_config(image.config.config, command),
        base=request.base,
        program="/" + path,
    )
    notes = (
        ()
        if kind.is_static
        else (f"/{path} is dynamically linked: the final stage carries its loader and libraries",)
    )
    return replace(
        base, dockerfile=render_dockerfile(text, plan), copies=copies, copied_bytes=copied, notes=notes
    )


def _carried_config(config: ContainerConfig, command: tuple[str, ...]) -> ContainerConfig:
    """The runtime settings of the original, its command in exec form (ENTRYPOINT and CMD split as they were);
    what only a shell or a build uses (SHELL, HEALTHCHECK, ONBUILD) stays behind."""
    entry = len(exec_form(tuple(config.entrypoint)) or ()) if config.entrypoint else 0
    return msgspec.structs.replace(
        config,
        entrypoint=command[:entry] or None,
        cmd=command[entry:] or None,
        shell=None,
        healthcheck=None,
        on_build=None,
    )


def _verified(
    request: AdviceRequest,
    store: Store,
    runtime: Runtime,
    events: EventSink,
    image: ImageRecord,
    advice: Advice,
) -> Advice:
    from slipway.pipeline import BuildRequest, build

    assert advice.dockerfile is not None
    try:
        outcome = build(
            BuildRequest(
                context=request.context, dockerfile=request.dockerfile, dockerfile_text=advice.dockerfile,
                build_args=request.build_args,
            ),
            store=store, runtime=runtime, events=events,
        )  # fmt: skip
    except SlipwayError as err:
        return replace(advice, dockerfile=None, declined=f"the rewritten Dockerfile does not build: {err}")
    assert outcome.image is not None
    command, timeout = request.verify_command, request.verify_timeout
    first = run_captured(store, runtime, image.id, command, timeout)
    again = run_captured(store, runtime, image.id, command, timeout)
    rewritten = run_captured(store, runtime, outcome.image.id, command, timeout)
    reason = compare_runs(first, again, rewritten, timeout)
    verification = Verification(
        passed=reason is None,
        reason=reason or "",
        command=command,
        original=first,
        rewritten=rewritten,
        rewritten_image=outcome.image.id,
        rewritten_size=outcome.image.size,
    )
    if reason is not None:
        return replace(advice, dockerfile=None, declined=reason, verification=verification)
    return replace(advice, verification=verification)


def _find_program(tree: Tree, name: str, config: ContainerConfig) -> tuple[str, str] | None:
    """(the path the runtime would execute for argv[0] `name`, the file it leads to through symlinks), both
    relative paths of the tree; a bare name is looked up in the image's PATH, a relative one in WORKDIR."""
    if "/" not in name:
        env = dict(item.partition("=")[::2] for item in config.env or ())
        candidates = [
            f"{directory}/{name}" for directory in env.get("PATH", DEFAULT_PATH).split(":") if directory
        ]
    elif name.startswith("/"):
        candidates = [name]
    else:
        candidates = [f"{config.working_dir or '/'}/{name}"]
    for candidate in candidates:
        resolved = tree.resolve(candidate)
        file = tree.get(resolved) if resolved is not None else None
        if resolved is not None and file is not None and file.entry.kind in ("file", "hardlink"):
            return "/".join(part for part in candidate.split("/") if part not in ("", ".")), resolved
    return None


def _exists(tree: Tree, path: str) -> bool:
    return _size(tree, path) > 0


def _size(tree: Tree, path: str) -> int:
    resolved = tree.resolve(path)
    file = tree.get(resolved) if resolved is not None else None
    return file.entry.size if file is not None else 0


def _parsed(text: str | None) -> ParsedDockerfile | None:
    if text is None:
        return None
    try:
        return parse(text)
    except DockerfileError:
        return None  # it built, so this does not happen; the hints that need it are left out
