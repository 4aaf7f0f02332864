"""`slipway build`: docker build's flags, without a daemon."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from slipway import build_memo
from slipway.build_memo import PULL_POLICY_VARIABLE
from slipway.cli._context import AppContext
from slipway.errors import RunFailed, UsageError

if TYPE_CHECKING:
    pass

REGISTRIES_FILE = "registries.json"  # as slipway.registry names it; not imported: that pulls in httpx


def _key_values(values: tuple[str, ...], flag: str, *, from_environment: bool = False) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, separator, rest = value.partition("=")
        if not key:
            raise UsageError(f"{flag} {value!r}: expected KEY=VALUE")
        if not separator:
            if not from_environment:
                raise UsageError(f"{flag} {value!r}: expected KEY=VALUE")
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
        raise UsageError(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds") from None


def _pull_policy(always: bool) -> str:
    if always:
        return "always"
    value = os.environ.get(PULL_POLICY_VARIABLE) or "missing"
    if value not in ("never", "missing", "always"):
        raise UsageError(f"{PULL_POLICY_VARIABLE}={value!r}: expected never, missing or always")
    return value


def _registry_options(root: Path, insecure_registries: tuple[str, ...]):  # noqa: ANN202 - lazy import
    """As `slipway pull` and `push` resolve them: --insecure-registry, <root>/registries.json, $DOCKER_CONFIG."""
    docker_config = os.environ.get("DOCKER_CONFIG")
    if not insecure_registries and not docker_config and not (root / REGISTRIES_FILE).exists():
        return None  # the defaults: importing slipway.registry (httpx) is left to builds that reach a registry
    from slipway.registry import RegistryOptions, read_insecure_registries

    configured = read_insecure_registries(root / REGISTRIES_FILE)
    return RegistryOptions(
        insecure_registries=tuple(dict.fromkeys(insecure_registries + configured)),
        docker_config=Path(docker_config) if docker_config else None,
    )


@click.command()
@click.argument("context", type=click.Path(file_okay=False, path_type=Path))
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag (name:tag).")
@click.option("-f", "--file", "dockerfile", help="Name of the Dockerfile (default CONTEXT/Dockerfile; - for stdin).")
@click.option("--target", help="Set the target build stage to build.")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables (KEY=VALUE).")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image (KEY=VALUE).")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image.")
@click.option("--no-cache-filter", multiple=True, help="Do not cache the named stages.")
@click.option("--network", type=click.Choice(["default", "host", "none"]), default="default", show_default=True)
@click.option("--platform", default="linux/amd64", show_default=True, help="Target platform.")
@click.option(
    "--progress",
    type=click.Choice(["auto", "plain", "tty", "rawjson", "quiet"]),
    default="auto",
    show_default=True,
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print the image ID on success.")
@click.option("--iidfile", type=click.Path(dir_okay=False, path_type=Path), help="Write the image ID to the file.")
@click.option("--max-parallelism", type=click.IntRange(min=1), default=None, help="Most RUN steps at once.")
@click.option(
    "--compression",
    type=click.Choice(["gzip", "zstd"]),
    default=None,
    help="Compress the layers now (default: the store keeps them uncompressed; a push gzips them).",
)
@click.option(
    "--pull",
    is_flag=True,
    help=f"Always check the registry for newer FROM images (default: pull only missing ones; {PULL_POLICY_VARIABLE}"
    "=never|missing|always sets the default).",
)
@click.option(
    "--insecure-registry",
    "insecure_registries",
    multiple=True,
    metavar="HOST[:PORT]",
    help=f"Allow plain HTTP (and unverified TLS) to this registry; also read from <root>/{REGISTRIES_FILE}.",
)
@click.option(
    "-o",
    "--output",
    "output",
    metavar="[type=TYPE,]dest=...",
    help="Where the result goes, as BuildKit's --output: type=image (default), registry, docker, oci, local, tar; "
    "DIR alone means type=local,dest=DIR.",
)
@click.option("--push", is_flag=True, help="Push the image to each -t name (--output type=registry).")
@click.option(
    "--cache-to",
    "cache_to",
    multiple=True,
    metavar="type=registry,ref=REF|type=local,dest=DIR[,mode=min|max]",
    help="Export the build cache (mode=min: the final image's steps, the default; max: every step).",
)
@click.option(
    "--cache-from",
    "cache_from",
    multiple=True,
    metavar="type=registry,ref=REF|type=local,src=DIR",
    help="Use build cache exported by --cache-to (a REF alone means type=registry,ref=REF).",
)
@click.pass_obj
def build(
    app: AppContext,
    context: Path,
    tags: tuple[str, ...],
    dockerfile: str | None,
    target: str | None,
    build_args: tuple[str, ...],
    labels: tuple[str, ...],
    no_cache: bool,
    no_cache_filter: tuple[str, ...],
    network: str,
    platform: str,
    progress: str,
    quiet: bool,
    iidfile: Path | None,
    max_parallelism: int | None,
    compression: str | None,
    pull: bool,
    insecure_registries: tuple[str, ...],
    output: str | None,
    push: bool,
    cache_to: tuple[str, ...],
    cache_from: tuple[str, ...],
) -> None:
    """Build an image from a Dockerfile and a context directory."""
    dockerfile_text = sys.stdin.read() if dockerfile == "-" else None
    dockerfile_path = build_memo.dockerfile_location(dockerfile, context) if dockerfile != "-" else None
    resolved_args = _key_values(build_args, "--build-arg", from_environment=True)
    resolved_labels = _key_values(labels, "--label")
    memo = build_memo.MemoPlan.make(
        app.root,
        context,
        dockerfile_path,
        dockerfile_text,
        build_memo.request_options(
            tags=tags, target=target, build_args=resolved_args, labels=resolved_labels, network=network,
            platform=platform, compression=compression,
        ),  # fmt: skip
        eligible=not (no_cache or no_cache_filter or pull or output or push or cache_to or cache_from),
    )
    if memo is not None and memo.answer(progress="quiet" if quiet else progress, iidfile=iidfile, quiet=quiet):
        return
    from slipway.build import BuildRequest
    from slipway.build import build as run_build
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
        raise UsageError(f"-q prints the image ID on stdout, where --output {output} writes: drop one of them")
    if output_spec.to_stdout and sys.stdout.isatty():
        raise UsageError(f"--output {output}: refusing to write a tar to the terminal; redirect stdout or use dest=FILE")
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
        source_date_epoch=_source_date_epoch(),
        compression=compression,
        max_parallelism=max_parallelism,
        pull=_pull_policy(pull),  # type: ignore[arg-type]
        registry=_registry_options(app.root, insecure_registries),
        output=output_spec,
        cache_to=tuple(parse_cache_to(text) for text in cache_to),
        cache_from=tuple(parse_cache_from(text) for text in cache_from),
    )
    mode = "quiet" if quiet else progress
    with Store.open(app.root) as store:
        runtime = find_runtime(os.environ.get("SLIPWAY_RUNTIME") or None, root=app.root)
        try:
            with open_renderer(mode, sys.stderr) as events:  # type: ignore[arg-type]
                outcome = run_build(request, store=store, runtime=runtime, events=events, stdout=sys.stdout.buffer)
        except RunFailed as err:
            if err.location is not None:
                text = dockerfile_text if dockerfile_text is not None else _read_quietly(err.location.path)
                click.echo(
                    format_run_failure(
                        text, err.location, err.argv, err.process_exit_code, err.output_tail, step_name=err.step
                    ),
                    err=True,
                )
                sys.exit(1)
            raise
    if outcome.image is None:
        return  # type=local and type=tar make no image: no ID to show or write
    if memo is not None:
        memo.remember(outcome)
    image_id = outcome.image.id
    if iidfile is not None:
        iidfile.write_text(image_id)
    if quiet:
        click.echo(image_id)
        return
    if output_spec.tags_store:
        for name in outcome.image.names:
            if name in {str(parse_reference(tag)) for tag in tags + output_spec.names}:
                click.echo(f"naming to {name} done", err=True)
    click.echo(f"writing image {image_id} done", err=True)
    for name, digest in outcome.pushed:
        click.echo(f"pushed {name}@{digest}", err=True)


def _read_quietly(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


