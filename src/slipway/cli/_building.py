"""What `slipway build` does once its flags are read: the memo, the build, what it prints. No click here: the
click command (cli/build.py) and the fast rebuild (slipway.fast_rebuild) both call `run_build_command`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from slipway.solver.memo import MemoPlan, plan_memo
from slipway.store import memos

REGISTRIES_FILE = "registries.json"  # as slipway.registry names it; not imported: that pulls in httpx
PULL_POLICY_VARIABLE = "SLIPWAY_PULL_POLICY"


def run_build_command(
    root: Path,
    context: Path,
    *,
    tags: tuple[str, ...] = (),
    dockerfile: str | None = None,
    target: str | None = None,
    build_args: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    no_cache: bool = False,
    no_cache_filter: tuple[str, ...] = (),
    network: str = "default",
    platform: str = "linux/amd64",
    progress: str = "auto",
    quiet: bool = False,
    iidfile: Path | None = None,
    max_parallelism: int | None = None,
    compression: str | None = None,
    pull: bool = False,
    insecure_registries: tuple[str, ...] = (),
    output: str | None = None,
    push: bool = False,
    cache_to: tuple[str, ...] = (),
    cache_from: tuple[str, ...] = (),
) -> None:
    """Build as `slipway build` with these flags (their defaults are the command's)."""
    dockerfile_text = _read_stdin() if dockerfile == "-" else None
    dockerfile_path = dockerfile_location(dockerfile, context) if dockerfile != "-" else None
    resolved_args = _key_values(build_args, "--build-arg", from_environment=True)
    resolved_labels = _key_values(labels, "--label")
    source_date_epoch = _source_date_epoch()
    pull_policy = _pull_policy(pull)
    may_memoize = not (
        no_cache or no_cache_filter or pull_policy == "always" or output or push or cache_to or cache_from
    )
    memo = None
    if may_memoize:
        options = {
            "tags": tags, "target": target, "build_args": resolved_args, "labels": resolved_labels,
            "network": network, "platform": platform, "compression": compression,
            "source_date_epoch": source_date_epoch, "pull": pull_policy,
        }  # fmt: skip
        memo = plan_memo(context, dockerfile_path, dockerfile_text, options)
    if memo is not None and _answer(
        root, memo, progress="quiet" if quiet else progress, iidfile=iidfile, quiet=quiet
    ):
        return
    from slipway.build import BuildRequest
    from slipway.build import build as run_build
    from slipway.errors import RunFailed, UsageError
    from slipway.export.specs import OutputSpec, parse_cache_from, parse_cache_to, parse_output, with_push
    from slipway.image.reference import parse_reference
    from slipway.progress.render import format_run_failure, open_renderer
    from slipway.store import Store
    from slipway.worker.executor import find_runtime

    for tag in tags:
        parse_reference(tag)  # a bad -t fails before any work
    output_spec = parse_output(output) if output is not None else OutputSpec()
    if push:
        output_spec = with_push(output_spec)
    if quiet and output_spec.to_stdout:
        raise UsageError(
            f"-q prints the image ID on stdout, where --output {output} writes: drop one of them"
        )
    if output_spec.to_stdout and sys.stdout.isatty():
        raise UsageError(
            f"--output {output}: refusing to write a tar to the terminal; redirect stdout or use dest=FILE"
        )
    request = BuildRequest(
        context=context,
        dockerfile=dockerfile_path,
        dockerfile_text=dockerfile_text,
        tags=tags,
        target=target,
        build_args=resolved_args,
        labels=resolved_labels,
        no_cache=no_cache,
        no_cache_filter=no_cache_filter,
        network=network,
        platform=platform,
        source_date_epoch=source_date_epoch,
        compression=compression,
        max_parallelism=max_parallelism,
        pull=pull_policy,  # type: ignore[arg-type]
        registry=_registry_options(root, insecure_registries),
        output=output_spec,
        cache_to=tuple(parse_cache_to(text) for text in cache_to),
        cache_from=tuple(parse_cache_from(text) for text in cache_from),
    )
    mode = "quiet" if quiet else progress
    with Store.open(root) as store:
        runtime = find_runtime(os.environ.get("SLIPWAY_RUNTIME") or None, root=root)
        try:
            with open_renderer(mode, sys.stderr) as events:  # type: ignore[arg-type]
                outcome = run_build(
                    request, store=store, runtime=runtime, events=events, stdout=sys.stdout.buffer, memo=memo
                )
            summary = _size_lines(store, outcome.image) if outcome.image is not None and not quiet else ()
        except RunFailed as err:
            if err.location is not None:
                text = dockerfile_text if dockerfile_text is not None else _read_quietly(err.location.path)
                print(
                    format_run_failure(
                        text,
                        err.location,
                        err.argv,
                        err.process_exit_code,
                        err.output_tail,
                        step_name=err.step,
                    ),
                    file=sys.stderr,
                    flush=True,
                )
                sys.exit(1)
            raise
    if outcome.image is None:
        return  # type=local and type=tar make no image: no ID to show or write
    image_id = outcome.image.id
    if iidfile is not None:
        iidfile.write_text(image_id)
    if quiet:
        print(image_id, flush=True)
        return
    if output_spec.tags_store:
        for name in outcome.image.names:
            if name in {str(parse_reference(tag)) for tag in tags + output_spec.names}:
                print(f"naming to {name} done", file=sys.stderr, flush=True)
    print(f"writing image {image_id} done", file=sys.stderr, flush=True)
    for name, digest in outcome.pushed:
        print(f"pushed {name}@{digest}", file=sys.stderr, flush=True)
    for line in summary:
        print(line, file=sys.stderr, flush=True)


def _size_lines(store, image) -> tuple[str, ...]:  # noqa: ANN001 - lazy imports: Store and ImageRecord
    """After the build: the image's size, and a hint per compiler toolchain its final stage ships."""
    from slipway.analysis.summary import toolchain_bytes
    from slipway.cli._humanize import human_size

    name = image.names[0].removeprefix("docker.io/library/") if image.names else image.id[:19]
    lines = [f"image {name}: {human_size(image.size, 3)}"]
    for short, size in sorted(toolchain_bytes(store, image).items(), key=lambda item: -item[1]):
        lines.append(
            f"hint: the final image contains {short} ({human_size(size, 3)}): "
            "`slipway advise` can move it to a build stage"
        )
    return tuple(lines)


def dockerfile_location(option: str | None, context: Path) -> Path | None:
    """The Dockerfile `-f` names (None: CONTEXT/Dockerfile); not for `-f -`. docker resolves a relative -f
    against the working directory, then against the context."""
    if not option:
        return None
    path = Path(option)
    if not path.is_absolute() and not path.exists():
        return context / option
    return path


def _answer(root: Path, plan: MemoPlan, *, progress: str, iidfile: Path | None, quiet: bool) -> bool:
    """Replay the memo's build as a fully cached one; False when there is no valid memo."""
    import time

    from slipway.progress.events import StepCached, StepDone, StepStarted
    from slipway.progress.render import open_renderer

    memo = memos.lookup(root, plan.key, plan.fingerprint)
    if memo is None:
        return False
    with open_renderer(progress, sys.stderr) as events:  # type: ignore[arg-type]
        for step in memo.steps:
            now = time.time()
            if step.kind == "source":
                events.emit(StepStarted(vertex=step.vertex, name=step.name, at=now))
                events.emit(StepDone(vertex=step.vertex, at=now))
            else:
                events.emit(StepCached(vertex=step.vertex, name=step.name, at=now))
        events.emit(StepStarted(vertex="export", name="exporting to image", at=time.time()))
        events.emit(StepDone(vertex="export", at=time.time()))
    if iidfile is not None:
        iidfile.write_text(memo.image_id)
    if quiet:
        print(memo.image_id, flush=True)
        return True
    for name in memo.names:
        print(f"naming to {name} done", file=sys.stderr)
    print(f"writing image {memo.image_id} done", file=sys.stderr, flush=True)
    return True


def _key_values(
    values: tuple[str, ...], flag: str, *, from_environment: bool = False
) -> tuple[tuple[str, str], ...]:
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


def _source_date_epoch() -> int | None:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise _usage_error(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds") from None


def _pull_policy(always: bool) -> str:
    if always:
        return "always"
    value = os.environ.get(PULL_POLICY_VARIABLE) or "missing"
    if value not in ("never", "missing", "always"):
        raise _usage_error(f"{PULL_POLICY_VARIABLE}={value!r}: expected never, missing or always")
    return value


def _registry_options(root: Path, insecure_registries: tuple[str, ...]):  # noqa: ANN202 - lazy import
    """As `slipway pull` and `push` resolve them: --insecure-registry, <root>/registries.json, $DOCKER_CONFIG."""
    docker_config = os.environ.get("DOCKER_CONFIG")
    if not insecure_registries and not docker_config and not (root / REGISTRIES_FILE).exists():
        return (
            None  # the defaults: importing slipway.registry (httpx) is left to builds that reach a registry
        )
    from slipway.registry import RegistryOptions, read_insecure_registries

    configured = read_insecure_registries(root / REGISTRIES_FILE)
    return RegistryOptions(
        insecure_registries=tuple(dict.fromkeys(insecure_registries + configured)),
        docker_config=Path(docker_config) if docker_config else None,
    )


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
