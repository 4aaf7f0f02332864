"""The click command group: every subcommand, imported only when invoked, so `slipway --version` stays quick."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from slipway import __version__
from slipway.cli._context import (
    PROGRAM,
    ROOT_VARIABLE,
    VERSION_MESSAGE,
    AppContext,
    default_root,
    enter_user_namespace,
    exit_for,
    start_debug_logging,
)

# command name -> "module:attribute" of a click command, imported on first use.
COMMANDS: dict[str, str] = {
    "build": "slipway.cli.build:build",
    "run": "slipway.cli.run:run",
    "images": "slipway.cli.images:images",
    "inspect": "slipway.cli.images:inspect",
    "history": "slipway.cli.images:history",
    "tag": "slipway.cli.images:tag",
    "rmi": "slipway.cli.images:rmi",
    "image": "slipway.cli.images:image",
    "system": "slipway.cli.system:system",
    "import": "slipway.cli.archive:import_",
    "save": "slipway.cli.archive:save",
    "load": "slipway.cli.archive:load",
    "pull": "slipway.cli.registry:pull",
    "push": "slipway.cli.registry:push",
    "login": "slipway.cli.registry:login",
    "logout": "slipway.cli.registry:logout",
    "builder": "slipway.cli.builder:builder",
    "debug": "slipway.cli.debug:debug",
    "analyze": "slipway.cli.analysis:analyze",
    "diff": "slipway.cli.analysis:diff",
    "advise": "slipway.cli.analysis:advise",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            return None  # a command whose module has not landed yet
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROGRAM, message=VERSION_MESSAGE)
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    envvar=ROOT_VARIABLE,
    default=None,
    help="Store root (default /var/lib/slipway as root, else $XDG_DATA_HOME/slipway).",
)
@click.option("--debug", is_flag=True, help="Log debug detail to stderr.")
@click.pass_context
def cli(ctx: click.Context, root: str | None, debug: bool) -> None:
    """slipway: build container images from Dockerfiles, without a daemon."""
    if debug:
        start_debug_logging()
    command = ctx.invoked_subcommand
    words: list[str] = ctx.obj if isinstance(ctx.obj, list) else []  # run() hands the command line in
    enter_user_namespace(command, words[words.index(command) + 1 :] if command in words else [])
    ctx.obj = AppContext(root=default_root(root), debug=debug)


def run(argv: list[str] | None = None) -> Any:
    try:
        words = sys.argv[1:] if argv is None else argv
        return cli.main(args=argv, prog_name="slipway", standalone_mode=False, obj=list(words))
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except (Exception, KeyboardInterrupt) as err:
        exit_for(err)  # a SlipwayError's line and exit code, a full disk's line; anything else is re-raised
