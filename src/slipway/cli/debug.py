"""`slipway debug ...`: look inside the frontend (the parse tree, word expansion) without building."""

from __future__ import annotations

from pathlib import Path

import click

from slipway.errors import UsageError
from slipway.frontend.parser import dump, parse
from slipway.frontend.shell import ShellLexer


@click.group()
def debug() -> None:
    """Inspect how slipway reads a Dockerfile."""


@debug.command("ast")
@click.argument("dockerfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ast(dockerfile: Path) -> None:
    """Print DOCKERFILE's parse tree in BuildKit's dump format."""
    try:
        text = dockerfile.read_bytes()
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
    "--env", "env", multiple=True, callback=_parse_assignment, metavar="NAME=VALUE", help="A variable (repeatable)."
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
