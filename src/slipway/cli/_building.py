"""What `slipway build` does once its flags are read: resolve them, answer from the memo or build, report.

The click command (cli/build.py) and the fast path (cli/_fast.py) both call `build_command` with the same
`BuildFlags`. Up to the memo's answer only the standard library is imported here (and the progress renderer
when the memo answers): the build's modules load only when something is built.
"""

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from slipway.choices import EXPORT_STEP_NAMES, PULL_POLICIES, PullPolicy
from slipway.cli._build_flags import PULL_POLICY_VARIABLE, BuildFlags
from slipway.cli._buildx_flags import warn_attestations
from slipway.epoch import EPOCH_ARG, environment_epoch
from slipway.frontend.files import context_kind, dockerfile_location
from slipway.solver.memo import MemoPlan, plan_memo
from slipway.store import memos

if TYPE_CHECKING:
    from slipway.export.specs import OutputSpec
    from slipway.pipeline import BuildOutcome, BuildRequest
    from slipway.session.secrets import SecretSource
    from slipway.session.ssh import SshSource
    from slipway.store import Store

__all__ = ["Outcome", "build_command", "report_outcome"]


class Resolved(NamedTuple):
    """The flags' meaning, read once: the Dockerfile (stdin is read here, and only here), the KEY=VALUE lists,
    and the environment's settings."""

    dockerfile: Path | None  # None: CONTEXT/Dockerfile, or the text below
    dockerfile_text: str | None  # `-f -`
    build_args: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    source_date_epoch: int | None  # the environment's: image times, and every layer's file times clamped
    pull: PullPolicy
    secrets: "tuple[SecretSource, ...]"
    ssh: "tuple[SshSource, ...]"


class Outcome(NamedTuple):
    """What a build (or the memo of an identical one) made, as the command reports it."""

    image_id: str | None  # None: the output made no image (type=local, type=tar)
    names: tuple[str, ...]  # the names it now carries in the store, of those asked for
    pushed: tuple[tuple[str, str], ...] = ()  # (name, manifest digest) of each push
    summary: tuple[str, ...] = ()  # after a build: the image's size, and hints (a memo keeps them)
    metadata: "tuple[tuple[str, object], ...]" = ()  # BuildKit's result keys, for --metadata-file


def build_command(root: Path, flags: BuildFlags) -> None:
    """`slipway build` with these flags, in the store at `root`."""
    resolved = _resolve(flags)
    warn_attestations(flags)
    if flags.check or flags.call != "build" or flags.format is not None:
        from slipway.cli._calls import parse_call, run_call

        call = parse_call("check" if flags.check else flags.call, flags.format)
        if call is not None:
            progress = "quiet" if flags.quiet else flags.progress
            run_call(root, call, _request(root, flags, resolved), progress)
            return
    plan = _memo_plan(flags, resolved)
    progress = "quiet" if flags.quiet else flags.progress
    memo = memos.lookup(root, plan.key, plan.fingerprint) if plan is not None else None
    if memo is not None:
        if resolved.secrets:
            from slipway.session.secrets import read_secrets

            read_secrets(resolved.secrets, os.environ)  # an unreadable one fails the memo's answer as a build
        _replay(memo, progress)
        summary = () if flags.quiet else tuple(step.name for step in memo.steps if step.kind == "summary")
        outcome = Outcome(memo.image_id, memo.names, summary=summary)
    else:
        outcome = _build(root, flags, resolved, plan)
    report_outcome(outcome, flags)


def report_outcome(outcome: Outcome, flags: BuildFlags) -> None:
    """The image ID to --iidfile, and on stdout (-q) or the lines docker build ends with on stderr; the result's
    metadata to --metadata-file."""
    if flags.metadata_file is not None:
        _write_metadata(flags.metadata_file, outcome.metadata)
    if outcome.image_id is None:
        return
    if flags.iidfile is not None:
        flags.iidfile.write_text(outcome.image_id)
    if flags.quiet:
        print(outcome.image_id, flush=True)
        return
    for name in outcome.names:
        print(f"naming to {name} done", file=sys.stderr)
    print(f"writing image {outcome.image_id} done", file=sys.stderr, flush=True)
    for name, digest in outcome.pushed:
        print(f"pushed {name}@{digest}", file=sys.stderr, flush=True)
    for line in outcome.summary:
        print(line, file=sys.stderr, flush=True)


def _write_metadata(path: Path, metadata: tuple[tuple[str, object], ...]) -> None:
    """docker buildx's --metadata-file: a JSON object of BuildKit's exporter response."""
    import json

    try:
        path.write_text(json.dumps(dict(metadata), indent=2, sort_keys=True) + "\n")
    except OSError as err:
        from slipway.errors import ExportError

        raise ExportError(f"--metadata-file {path}: cannot write it: {err.strerror}") from err


def _resolve(flags: BuildFlags) -> Resolved:
    piped = flags.dockerfile == "-"
    if piped and flags.context == "-":
        raise _usage_error(
            "-f - and the context - cannot both come from stdin: name a Dockerfile or a context"
        )
    build_args = key_values(flags.build_args, "--build-arg", from_environment=True)
    epoch = environment_epoch(os.environ)
    if any(name == EPOCH_ARG for name, _ in build_args):
        epoch = None  # as buildx: the environment's SOURCE_DATE_EPOCH is the build arg's default
    elif epoch is not None:
        build_args += ((EPOCH_ARG, str(epoch)),)
    return Resolved(
        dockerfile=None if piped else dockerfile_location(flags.dockerfile, flags.context),
        dockerfile_text=_read_stdin() if piped else None,
        build_args=build_args,
        labels=key_values(flags.labels, "--label"),
        source_date_epoch=epoch,
        pull="always" if flags.pull else _pull_policy(),
        secrets=_secrets(flags.secrets),
        ssh=_ssh(flags.ssh),
    )


def _secrets(values: tuple[str, ...]) -> "tuple[SecretSource, ...]":
    if not values:
        return ()
    from slipway.session.secrets import parse_secret

    return tuple(parse_secret(value, os.environ) for value in values)


def _ssh(values: tuple[str, ...]) -> "tuple[SshSource, ...]":
    if not values:
        return ()
    from slipway.session.ssh import parse_ssh

    return tuple(parse_ssh(value, os.environ) for value in values)


def _memo_plan(flags: BuildFlags, resolved: Resolved) -> MemoPlan | None:
    """None for builds no memo may answer: they skip the cache, read a registry or a context from outside (its
    identity is not in the memo key), or write elsewhere."""
    if context_kind(flags.context) != "directory" or flags.build_contexts:
        return None
    if flags.metadata_file is not None:
        return None  # a memo knows the image ID, not the manifest digest the metadata names
    if flags.no_cache or flags.no_cache_filter or resolved.pull == "always":
        return None
    if flags.output or flags.push or flags.cache_to or flags.cache_from:
        return None
    if flags.allow:
        return None  # a memo of a build granted entitlements would answer the same request without them
    if flags.ssh:
        return None  # an agent is checked by talking to it, which a memo's answer would skip
    options = {
        "tags": flags.tags, "target": flags.target, "build_args": resolved.build_args, "labels": resolved.labels,
        "network": flags.network, "platform": flags.platform, "compression": flags.compression,
        "source_date_epoch": resolved.source_date_epoch, "pull": resolved.pull,
        # Which secrets were lent, not their values: a RUN that requires one fails without it (see
        # solver/session_mounts.py), so a memo of a build that had it must not answer one that has not.
        "secrets": [(source.id, source.file, source.env) for source in resolved.secrets],
        "add_hosts": flags.add_hosts, "shm_size": flags.shm_size, "ulimits": flags.ulimits,
        "annotations": flags.annotations,
    }  # fmt: skip
    return plan_memo(Path(flags.context), resolved.dockerfile, resolved.dockerfile_text, options)


def _replay(memo: memos.Memo, progress: str) -> None:
    """Show the memo's build as the fully cached build it stands for."""
    from slipway.progress.events import StepCached, step
    from slipway.progress.render import open_renderer
    from slipway.progress.warnings import decode_warning

    with open_renderer(progress, sys.stderr) as events:  # type: ignore[arg-type]
        for memo_step in memo.steps:
            if memo_step.kind == "source":
                with step(events, memo_step.vertex, memo_step.name):
                    pass
            elif memo_step.kind == "warning":
                events.emit(decode_warning(memo_step.name, time.time()))
            elif memo_step.kind == "step":
                events.emit(StepCached(vertex=memo_step.vertex, name=memo_step.name, at=time.time()))
        with step(events, "export", EXPORT_STEP_NAMES["image"]):
            pass


def _build(root: Path, flags: BuildFlags, resolved: Resolved, plan: MemoPlan | None) -> Outcome:
    from slipway.export.specs import build_outputs, parse_output
    from slipway.image.reference import parse_reference

    for tag in flags.tags:
        parse_reference(tag)  # a bad -t fails before any work
    outputs = build_outputs([parse_output(text) for text in flags.output], push=flags.push, load=flags.load)
    for text, output in zip(flags.output, outputs, strict=False):
        if flags.quiet and output.to_stdout:
            raise _usage_error(
                f"-q prints the image ID on stdout, where --output {text} writes: drop one of them"
            )
        if output.to_stdout and sys.stdout.isatty():
            raise _usage_error(
                f"--output {text}: refusing to write a tar to the terminal; redirect stdout or use dest=FILE"
            )
    request = _request(root, flags, resolved, outputs)
    built, summary = _run(
        root, request, "quiet" if flags.quiet else flags.progress, plan, summarize=not flags.quiet
    )
    if built.image is None:
        return Outcome(None, ())
    # Several platforms: the image index stands for the build, as docker's containerd store shows it.
    image_id = built.index.digest if built.index is not None else built.image.id
    return Outcome(image_id, built.names, built.pushed, summary, _metadata(request, built))


def _metadata(request: "BuildRequest", built: "BuildOutcome") -> tuple[tuple[str, object], ...]:
    """BuildKit's exporter response, as docker buildx writes it to --metadata-file: the manifest (the index of
    several platforms) as pushed when pushed, and its descriptor when it is the store's; the config digest of
    one image; the names asked for."""
    import msgspec

    from slipway.export.exporter import output_names

    assert built.image is not None
    asked = tuple(
        dict.fromkeys(name for output in request.outputs for name in output_names(request.tags, output))
    )
    if built.pushed:
        manifest = built.pushed[0][1]
    else:
        manifest = built.index.digest if built.index is not None else built.image.manifest_digest
    config = (("containerimage.config.digest", built.image.id),) if built.index is None else ()
    # A push sends a manifest of its own (its layers compressed): its size is the registry's to say.
    descriptor = built.manifest if built.manifest is not None and not built.pushed else None
    return (
        *config,
        *((("containerimage.descriptor", msgspec.to_builtins(descriptor)),) if descriptor else ()),
        ("containerimage.digest", manifest),
        *((("image.name", ",".join(asked)),) if asked else ()),
    )


def _request(
    root: Path, flags: BuildFlags, resolved: Resolved, outputs: "tuple[OutputSpec, ...]" = ()
) -> "BuildRequest":
    from slipway._api.settings import registry_options
    from slipway.contexts import context_argument
    from slipway.export.specs import OutputSpec, parse_annotations, parse_cache_from, parse_cache_to
    from slipway.graph.run_limits import read_run_limits
    from slipway.pipeline import BuildRequest

    return BuildRequest(
        context=context_argument(flags.context, sys.stdin.buffer),
        dockerfile=resolved.dockerfile,
        dockerfile_text=resolved.dockerfile_text,
        tags=flags.tags,
        target=flags.target,
        build_args=resolved.build_args,
        labels=resolved.labels,
        no_cache=flags.no_cache,
        no_cache_filter=flags.no_cache_filter,
        network=flags.network,
        platform=flags.platform,
        source_date_epoch=resolved.source_date_epoch,
        compression=flags.compression,
        max_parallelism=flags.max_parallelism,
        pull=resolved.pull,
        registry=registry_options(root, flags.insecure_registries),
        outputs=outputs or (OutputSpec(),),
        cache_to=tuple(parse_cache_to(text) for text in flags.cache_to),
        cache_from=tuple(parse_cache_from(text) for text in flags.cache_from),
        allow=flags.allow,
        secrets=resolved.secrets,
        ssh=resolved.ssh,
        run_limits=read_run_limits(flags.add_hosts, flags.shm_size, flags.ulimits),
        annotations=parse_annotations(flags.annotations),
        build_contexts=flags.build_contexts,
    )


def _run(
    root: Path, request: "BuildRequest", progress: str, plan: MemoPlan | None, *, summarize: bool
) -> "tuple[BuildOutcome, tuple[str, ...]]":
    """The build itself, in the store at `root`, and its summary lines; an error that has a place in the
    Dockerfile (a failing RUN, a parse error, a missing COPY source ...) shows the Dockerfile's lines there."""
    from slipway._api.settings import runtime_for
    from slipway.errors import SlipwayError
    from slipway.pipeline import build
    from slipway.progress.failure import format_failure
    from slipway.progress.render import open_renderer
    from slipway.store import Store

    with Store.open(root) as store:
        runtime = runtime_for(root)
        try:
            with open_renderer(progress, sys.stderr) as events:  # type: ignore[arg-type]
                built = build(
                    request, store=store, runtime=runtime, events=events, stdout=sys.stdout.buffer, memo=plan
                )
            summary = _size_lines(store, built) if summarize else ()
            if (
                plan is not None and summary
            ):  # kept with the memo (a -q build computes none: its memo has none)
                store.memos.add_summary(plan.key, plan.fingerprint, summary)
        except SlipwayError as err:
            # An error with a place in the Dockerfile shows it, as BuildKit does (progress/failure.py).
            if err.location is None:
                raise
            text = request.dockerfile_text
            if text is None:
                # A context from outside is gone by now: no excerpt rather than a same-named local file's.
                text = _read_quietly(err.location.path) if isinstance(request.context, Path) else ""
            print(format_failure(err, text), file=sys.stderr, flush=True)
            sys.exit(err.exit_code)
    return built, summary


def _size_lines(store: "Store", built: "BuildOutcome") -> tuple[str, ...]:
    """After the build: the image's size, and a hint per compiler toolchain its final stage ships."""
    from slipway.analysis.summary import toolchain_bytes
    from slipway.cli._humanize import human_size

    image = built.image
    if image is None:
        return ()

    name = image.names[0].removeprefix("docker.io/library/") if image.names else image.id[:19]
    lines = [f"image {name}: {human_size(image.size, 3)}"]
    for short, size in sorted(
        toolchain_bytes(store, image, built.snapshot).items(), key=lambda item: -item[1]
    ):
        lines.append(
            f"hint: the final image contains {short} ({human_size(size, 3)}): "
            "`slipway advise` can move it to a build stage"
        )
    return tuple(lines)


def key_values(
    values: tuple[str, ...], flag: str, *, from_environment: bool = False
) -> tuple[tuple[str, str], ...]:
    """KEY=VALUE flags (--build-arg, --label) as docker build reads them, for every command that takes them;
    with `from_environment`, a bare KEY takes the environment's value and is skipped where it has none."""
    pairs = []
    for value in values:
        key, separator, rest = value.partition("=")
        if not key:
            raise _usage_error(f"{flag} {value!r}: expected KEY=VALUE")
        if not separator:
            if not from_environment:
                raise _usage_error(f"{flag} {value!r}: expected KEY=VALUE")
            if key not in os.environ:
                continue  # docker build skips --build-arg NAME when NAME is not in the environment
            rest = os.environ[key]
        pairs.append((key, rest))
    return tuple(pairs)


def _pull_policy() -> PullPolicy:
    value = os.environ.get(PULL_POLICY_VARIABLE) or "missing"
    for policy in PULL_POLICIES:
        if value == policy:
            return policy
    raise _usage_error(f"{PULL_POLICY_VARIABLE}={value!r}: expected one of {', '.join(PULL_POLICIES)}")


def _read_stdin() -> str:
    from slipway.frontend.files import read_stream  # with the size cap

    return read_stream(sys.stdin.buffer, "the Dockerfile on stdin")


def _read_quietly(path: str) -> str:
    from slipway.errors import ContextError
    from slipway.frontend.files import read_file

    try:
        return read_file(Path(path))
    except (OSError, ContextError):
        return ""


def _usage_error(message: str) -> Exception:
    from slipway.errors import UsageError  # only for the error: slipway.errors imports dataclasses

    return UsageError(message)
