"""`slipway build`: docker build's flags, without a daemon. The work is in cli/_building.py."""

from __future__ import annotations

from pathlib import Path

import click

from slipway.cli._building import PULL_POLICY_VARIABLE, REGISTRIES_FILE, run_build_command
from slipway.cli._context import AppContext


@click.command()
@click.argument("context", type=click.Path(file_okay=False, path_type=Path))
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag (name:tag).")
@click.option(
    "-f", "--file", "dockerfile", help="Name of the Dockerfile (default CONTEXT/Dockerfile; - for stdin)."
)
@click.option("--target", help="Set the target build stage to build.")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables (KEY=VALUE).")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image (KEY=VALUE).")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image.")
@click.option("--no-cache-filter", multiple=True, help="Do not cache the named stages.")
@click.option(
    "--network", type=click.Choice(["default", "host", "none"]), default="default", show_default=True
)
@click.option("--platform", default="linux/amd64", show_default=True, help="Target platform.")
@click.option(
    "--progress",
    type=click.Choice(["auto", "plain", "tty", "rawjson", "quiet"]),
    default="auto",
    show_default=True,
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Suppress the build output and print the image ID on success."
)
@click.option(
    "--iidfile", type=click.Path(dir_okay=False, path_type=Path), help="Write the image ID to the file."
)
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
    run_build_command(
        app.root, context, tags=tags, dockerfile=dockerfile, target=target, build_args=build_args, labels=labels,
        no_cache=no_cache, no_cache_filter=no_cache_filter, network=network, platform=platform, progress=progress,
        quiet=quiet, iidfile=iidfile, max_parallelism=max_parallelism, compression=compression, pull=pull,
        insecure_registries=insecure_registries, output=output, push=push, cache_to=cache_to, cache_from=cache_from,
    )  # fmt: skip
