"""The `slipway` command line: thin click commands that parse flags, call the API and render.

`main` first offers the arguments to the fast rebuild (slipway.fast_rebuild), which answers a no-op
`slipway build` from the build memo without importing click; everything else goes to the click group
(slipway.cli._group), whose subcommands are imported only when invoked.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any


def main(argv: list[str] | None = None) -> Any:
    from slipway import fast_rebuild

    if fast_rebuild.answer(sys.argv[1:] if argv is None else argv):
        return None
    from slipway.cli._group import run

    return run(argv)


def entry() -> None:
    """The `slipway` program (console script and `python -m slipway`): main(), then a prompt exit.

    By the time main() returns, every file is closed, the store is closed and its temp dir removed; what is
    left is the interpreter taking down its modules one by one, ~10 ms that a no-op rebuild (~40 ms) would
    otherwise spend on nothing. Errors (SystemExit, exceptions) leave the ordinary way."""
    try:
        result = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        # The reader went away (`slipway images | head -1`): stop quietly, as a tool killed by SIGPIPE does.
        os._exit(128 + 13)
    os._exit(result if isinstance(result, int) else 0)  # click returns a command's exit code, if it sets one


def __getattr__(name: str) -> Any:
    # `from slipway.cli import cli` (the click group), COMMANDS...: imported on first use.
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    group = importlib.import_module("slipway.cli._group")
    return getattr(group, name)
