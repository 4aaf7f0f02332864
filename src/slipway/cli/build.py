"""`slipway build`: docker build's flags, without a daemon. The click command is made from the flag table
(cli/_build_flags.py), as the fast path's parser is (cli/_fast.py); the work is in cli/_building.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any, assert_never

import click

from slipway.cli._build_flags import BUILD_FLAGS, CONTEXT, BuildFlags, Flag
from slipway.cli._building import build_command
from slipway.cli._context import AppContext

__all__ = ["build"]


def click_type(flag: Flag) -> click.ParamType[Any]:
    """The click type that accepts what the table says `flag` takes."""
    if flag.choices:
        return click.Choice(flag.choices)
    match flag.type:
        case "text":
            return click.STRING
        case "positive":
            return click.IntRange(min=1)
        case "file":
            return click.Path(dir_okay=False, path_type=Path)
        case "directory":
            return click.Path(file_okay=False, path_type=Path)
        case _:
            assert_never(flag.type)


def click_option(flag: Flag) -> click.Option:
    if flag.kind == "flag":
        return click.Option([*flag.aliases, flag.name], is_flag=True, help=flag.help)
    return click.Option(
        [*flag.aliases, flag.name],
        type=click_type(flag),
        multiple=flag.kind == "multiple",
        default=flag.default,
        show_default=flag.default is not None,
        metavar=flag.metavar,
        help=flag.help,
    )


@click.pass_obj
def _build(app: AppContext, /, **params: Any) -> None:
    """Build an image from a Dockerfile and a context: a directory, - (stdin), a URL or a git repository."""
    build_command(app.root, BuildFlags(**params))


build = click.Command(
    "build",
    callback=_build,
    params=[click.Argument([CONTEXT.name], type=click_type(CONTEXT)), *map(click_option, BUILD_FLAGS)],
    help=_build.__doc__,
)
