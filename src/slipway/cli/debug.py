"""`slipway debug ...`: look inside the frontend (the parse tree, word expansion) without building."""

from __future__ import annotations

from pathlib import Path

import click

from slipway.choices import DEFAULT_PLATFORM
from slipway.cli._building import key_values
from slipway.errors import UsageError
from slipway.frontend.convert import BaseImage, ConvertOptions, convert
from slipway.frontend.files import dockerfile_path, read_file
from slipway.frontend.parser import dump, parse
from slipway.frontend.shell import ShellLexer
from slipway.graph.ops import BuildGraph, Vertex, walk
from slipway.image.oci import ImageConfig, RootFS, sha256_digest
from slipway.image.platforms import format_platform, host_platform
from slipway.image.reference import parse_reference


@click.group()
def debug() -> None:
    """Inspect how slipway reads a Dockerfile."""


@debug.command("ast")
@click.argument("dockerfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ast(dockerfile: Path) -> None:
    """Print DOCKERFILE's parse tree in BuildKit's dump format."""
    try:
        text = read_file(dockerfile)
    except OSError as err:
        raise UsageError(f"cannot read {dockerfile}: {err.strerror}") from err
    parsed = parse(text, path=str(dockerfile))
    for warning in parsed.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(dump(parsed), nl=False)


def _parse_assignment(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in values:
        name, _, setting = value.partition("=")
        if not name:
            raise click.BadParameter(f"{value!r} has no name: write NAME=VALUE", ctx=ctx, param=param)
        env[name] = setting  # NAME alone sets NAME to the empty string, as in BuildKit
    return env


@debug.command("expand")
@click.option(
    "--env",
    "env",
    multiple=True,
    callback=_parse_assignment,
    metavar="NAME=VALUE",
    help="A variable (repeatable).",
)
@click.option(
    "--escape", type=click.Choice(["\\", "`"]), default="\\", show_default=True, help="The escape character."
)
@click.option("--words", is_flag=True, help="Split into words as for the exec form, one per line.")
@click.argument("word")
def expand(env: dict[str, str], escape: str, words: bool, word: str) -> None:
    """Print WORD after ARG/ENV substitution by BuildKit's shell rules."""
    lexer = ShellLexer(escape)
    if words:
        for item in lexer.expand_words(word, env):
            click.echo(item)
    else:
        click.echo(lexer.expand_word(word, env))


class _UnresolvedImages:
    """Answers every image with an empty config and a digest made from its name: no store is needed."""

    def resolve(self, ref: str, platform: str) -> BaseImage:
        name = str(parse_reference(ref))
        os_name, _, rest = platform.partition("/")
        architecture, _, variant = rest.partition("/")
        config = ImageConfig(architecture=architecture, os=os_name, variant=variant or None, rootfs=RootFS())
        return BaseImage(ref=name, manifest_digest=sha256_digest(name.encode()), config=config)


def _build_arg(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    return key_values(values, "--build-arg", from_environment=True)


@debug.command("graph")
@click.option(
    "-f",
    "--file",
    "dockerfile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The Dockerfile (default CONTEXT/Dockerfile).",
)
@click.option("--target", default=None, help="The stage to build (default the last one).")
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    callback=_build_arg,
    metavar="NAME[=VALUE]",
    help="An ARG value (repeatable); NAME alone takes it from the environment.",
)
@click.option("--platform", default=DEFAULT_PLATFORM, show_default=True, help="The target platform.")
@click.argument("context", type=click.Path(exists=True, file_okay=False, path_type=Path))
def graph(
    dockerfile: Path | None,
    target: str | None,
    build_args: tuple[tuple[str, str], ...],
    platform: str,
    context: Path,
) -> None:
    """Print the build graph of CONTEXT's Dockerfile: the stages the target needs and their steps."""
    path = dockerfile_path(context, dockerfile)
    try:
        text = read_file(path)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from err
    options = ConvertOptions(
        dockerfile=str(path),
        target=target,
        build_args=build_args,
        target_platform=platform,
        build_platform=format_platform(host_platform()),
    )
    parsed = parse(text, path=str(path))
    for warning in parsed.warnings:
        click.echo(f"warning: {warning}", err=True)
    built = convert(parsed, options, _UnresolvedImages())
    for line in _graph_lines(built):
        click.echo(line)


def _graph_lines(built: BuildGraph) -> list[str]:
    lines = ["(base images not resolved: each image stands for an empty one; digests depend on names only)"]
    shown: set[str] = set()
    for plan in built.stages:
        name = plan.name or f"stage-{plan.index}"
        marker = "  (target)" if plan.index == built.target.index else ""
        lines.append(f"stage {plan.index} {name}{marker}")
        for vertex in walk(plan.root):
            if vertex.digest in shown:
                continue
            shown.add(vertex.digest)
            lines.append("  " + _vertex_line(vertex))
    return lines


def _vertex_line(vertex: Vertex) -> str:
    inputs = ", ".join(_short(parent.digest) for parent in vertex.inputs)
    reads = f"  <- {inputs}" if inputs else ""
    return f"{_short(vertex.digest)}  {type(vertex.op).__name__:<13} {vertex.meta.name}{reads}"


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]
