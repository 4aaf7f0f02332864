"""What every command shares: the store root and flags resolved once, passed down (no global state)."""

import os
import sys
from pathlib import Path
from typing import NamedTuple, NoReturn

from slipway.choices import ROOTLESS_VARIABLE
from slipway.store import ROOT_VARIABLE, default_root

__all__ = [
    "PROGRAM",
    "ROOT_VARIABLE",
    "VERSION_MESSAGE",
    "AppContext",
    "default_root",
    "enter_user_namespace",
    "exit_for",
    "start_debug_logging",
    "version_line",
]

PROGRAM = "slipway"
# `slipway --version`'s line, as click's version_option formats it: the group declares it with this message
# and the fast path (cli/_fast.py) prints it without importing click.
VERSION_MESSAGE = "%(prog)s, version %(version)s"


class AppContext(NamedTuple):
    root: Path
    debug: bool = False


# Commands that never touch the store: a user without subordinate ids may still ask for help or log in.
STORELESS_COMMANDS = frozenset({"debug", "login", "logout"})


def enter_user_namespace(command: str | None, args: list[str]) -> None:
    """Rootless: before `command` (with `args`) touches the store, while this process has one thread, become
    root of a user namespace mapping the user's subordinate ids (worker/userns.py). Root never gets past the
    first test, and help, `debug`, `login` and `logout` need none."""
    if os.geteuid() == 0 or ROOTLESS_VARIABLE in os.environ:
        return
    if command is None or command in STORELESS_COMMANDS or _asks_for_help(args):
        return
    from slipway.worker.userns import enter

    try:
        enter()
    except Exception as err:  # a RootlessError: its line, and the exit code
        exit_for(err)


def _asks_for_help(args: list[str]) -> bool:
    """Whether -h/--help comes among the options before the first other word (a later one is the container's)."""
    for arg in args:
        if arg in ("-h", "--help"):
            return True
        if not arg.startswith("-") or arg == "--":
            return False
    return False


def start_debug_logging() -> None:
    """--debug: developer detail on stderr (the click group and the fast path alike)."""
    import logging

    logging.basicConfig(level=logging.DEBUG, format="%(relativeCreated)7.1fms %(name)s: %(message)s")


def exit_for(err: BaseException) -> NoReturn:
    """How a command ends on a SlipwayError, a full disk or Ctrl-C (the click group and the fast path alike):
    one line on stderr and the error's exit code. Anything else is re-raised."""
    import errno

    from slipway.errors import SlipwayError
    from slipway.progress.clip import clip_text

    if isinstance(err, SlipwayError):
        print(f"error: {clip_text(str(err))}", file=sys.stderr)
        sys.exit(err.exit_code)
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        # The rooms name the file system where they write; this catches a write none of them wrapped.
        where = f" (writing {err.filename})" if err.filename else ""
        print(f"error: {err.strerror}{where}; free some space and try again", file=sys.stderr)
        sys.exit(1)
    if isinstance(err, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    raise err


def version_line() -> str:
    from slipway import __version__

    return VERSION_MESSAGE % {"prog": PROGRAM, "version": __version__}
