"""The fast rebuild: `slipway build` in its common form, without click.

A daemonless builder starts a fresh process for every build, so a rebuild that changes nothing costs
mostly start-up: the interpreter, then the command line library (click and what it imports is ~15 ms, a
quarter of such a rebuild). `answer` reads the arguments of the common form of `slipway build` itself —

    slipway [--root DIR] build [-t NAME]... [-f FILE] [-q] [--progress P] [--network N] [--platform P]
                               [--target T] CONTEXT

— replays the memo exactly as the full command would (the same request key, fingerprint and output), and
without a memo runs the same build the click command runs (cli/_building.py), with the same error handling.
Any other flag or any doubt returns False, and click parses the command as usual. So the grammar here only
has to be right for what it accepts; it never has to reject anything.
"""

from __future__ import annotations

import os
from pathlib import Path

# Flags taking a value: the request option each one sets.
_VALUE_FLAGS = {
    "-t": "tags", "--tag": "tags", "-f": "file", "--file": "file", "--progress": "progress",
    "--network": "network", "--platform": "platform", "--target": "target",
}  # fmt: skip
_PROGRESS_MODES = ("auto", "plain", "tty", "rawjson", "quiet")
_NETWORKS = ("default", "host", "none")


def answer(argv: list[str]) -> bool:
    """True when the memo answered the build described by `argv` (the arguments after the program name)."""
    parsed = _parse(argv)
    if parsed is None:
        return False
    root, values, quiet, context = parsed
    from slipway.cli._context import default_root

    progress = "quiet" if quiet else (values["progress"][-1] if values["progress"] else "auto")
    _build(default_root(root), Path(context), values, progress=progress, quiet=quiet)
    return True


def _build(root: Path, context: Path, values: dict[str, list[str]], *, progress: str, quiet: bool) -> None:
    """The click command's build (it takes the memo plan just made), and its error handling (cli/_group.py)."""
    from slipway.cli._building import run_build_command
    from slipway.cli._context import exit_for

    try:
        run_build_command(
            root, context, tags=tuple(values["tags"]), dockerfile=values["file"][-1] if values["file"] else None,
            target=values["target"][-1] if values["target"] else None,
            network=values["network"][-1] if values["network"] else "default",
            platform=values["platform"][-1] if values["platform"] else "linux/amd64", progress=progress, quiet=quiet,
        )  # fmt: skip
    except (Exception, KeyboardInterrupt) as err:
        exit_for(err)  # a SlipwayError's line and exit code; anything else is re-raised


def _parse(argv: list[str]) -> tuple[str | None, dict[str, list[str]], bool, str] | None:
    """(root, option values, quiet, context), or None for anything outside the accepted form."""
    root = None
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        flag, separator, value = argv[index].partition("=")
        if flag != "--root":
            return None  # --debug, --help, --version...: click's
        if not separator:
            if index + 1 >= len(argv):
                return None
            value = argv[index + 1]
            index += 1
        root = value
        index += 1
    if index >= len(argv) or argv[index] != "build":
        return None
    if root is None:
        environment_root = os.environ.get("SLIPWAY_ROOT")
        if environment_root == "":
            return None  # click's reading of an empty variable decides
        root = environment_root
    values: dict[str, list[str]] = {name: [] for name in set(_VALUE_FLAGS.values())}
    quiet = False
    positional: list[str] = []
    arguments = argv[index + 1 :]
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        position += 1
        if argument in ("-q", "--quiet"):
            quiet = True
            continue
        if not argument.startswith("-") or argument == "-":
            positional.append(argument)
            continue
        if argument.startswith("--"):
            flag, separator, value = argument.partition("=")
        elif argument[:2] in ("-t", "-f"):
            flag, value = argument[:2], argument[2:]  # "-tNAME": click's attached short value, "=" and all
            separator = "=" if value else ""
        else:
            return None  # grouped short flags and the like: click's
        name = _VALUE_FLAGS.get(flag)
        if name is None:
            return None
        if not separator:
            if position >= len(arguments):
                return None
            value = arguments[position]
            position += 1
        values[name].append(value)
    if len(positional) != 1:
        return None
    if any(mode not in _PROGRESS_MODES for mode in values["progress"]):
        return None
    if any(network not in _NETWORKS for network in values["network"]):
        return None
    return root, values, quiet, positional[0]
