"""`slipway build` without click: the same grammar (cli/_build_flags.py), read as click reads it.

A daemonless builder starts a fresh process for every build, so a rebuild that changes nothing costs mostly
start-up: the interpreter, then the command line library (click and what it imports is ~15 ms, a quarter of
such a rebuild). `answer` reads `slipway [--root DIR] [--debug] build FLAGS... CONTEXT` with the parser below,
made from the same table as the click command, and hands the `BuildFlags` to the same entry
(cli/_building.py's `build_command`); and `slipway --version`, the line the group's version option declares
(cli/_context.py). What it declines is what click must answer: help, and any command line click would refuse (an unknown flag, a missing value, a value outside its choices...), so click's
messages stay the only ones. tests/unit/cli/test_fast.py holds that for every command line it accepts, click
reads the same BuildFlags.
"""

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import assert_never

from slipway.cli._build_flags import BUILD_FLAGS, CONTEXT, BuildFlags, Flag
from slipway.cli._context import ROOT_VARIABLE, version_line

__all__ = ["Invocation", "answer", "parse", "parse_build_flags"]


# (--root or $SLIPWAY_ROOT as given, None for the default root; --debug; the build's flags). A plain tuple: the
# fast path runs on every build, and a NamedTuple class costs it as much as the whole parse.
Invocation = tuple[str | None, bool, BuildFlags]


def answer(argv: list[str]) -> bool:
    """Run `argv` (the arguments after the program name) if it is a build this parser reads; False otherwise,
    for click to read."""
    if argv == ["--version"]:
        print(version_line())
        return True
    invocation = parse(argv, os.environ)
    if invocation is None:
        return False
    root, debug, flags = invocation
    from slipway.cli._building import build_command
    from slipway.cli._context import default_root, enter_user_namespace, exit_for, start_debug_logging

    if debug:
        start_debug_logging()
    enter_user_namespace("build", argv[argv.index("build") + 1 :])
    try:
        build_command(default_root(root), flags)
    except (Exception, KeyboardInterrupt) as err:
        exit_for(err)  # a SlipwayError's line and exit code, as the click group's; anything else is re-raised
    return True


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> Invocation | None:
    """The group's options, then `build` and its flags; None for anything else."""
    root: str | None = None
    debug = False
    index = 0
    while index < len(argv) and argv[index][:1] == "-":
        name, separator, value = argv[index].partition("=")
        index += 1
        if name == "--debug" and not separator:
            debug = True
        elif name == "--root":
            if not separator:
                if index == len(argv):
                    return None
                value = argv[index]
                index += 1
            root = value
        else:
            return None  # --help, --version, "--", an unknown option: click's
    if argv[index : index + 1] != ["build"]:
        return None
    if root is None:
        root = environ.get(ROOT_VARIABLE) or None  # click reads an empty variable as unset
    if root is not None and not _path_accepted(root, file_okay=False, dir_okay=True):
        return None
    flags = parse_build_flags(argv[index + 1 :])
    return None if flags is None else (root, debug, flags)


def parse_build_flags(args: Sequence[str]) -> BuildFlags | None:
    """The flags and the context, as click's parser takes them apart; None where click would not accept them."""
    given: dict[str, list[str]] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            positional += rest
            break
        if arg[:1] == "-" and len(arg) > 1:
            if not _take_option(arg, rest, given):
                return None
        else:
            positional.append(arg)
    if len(positional) != 1:
        return None
    values: dict[str, object] = {CONTEXT.name: _converted(CONTEXT, positional[0])}
    for flag in BUILD_FLAGS:
        values[flag.name] = _value(flag, given.get(flag.name))
    if any(value is _REFUSED for value in values.values()):
        return None
    return BuildFlags(**values)  # type: ignore[arg-type]


# -- click's way of taking options apart (click/parser.py), for this table -------------------------------------

_LONG = {alias: flag for flag in BUILD_FLAGS for alias in flag.aliases if len(alias) > 2}
_SHORT = {alias: flag for flag in BUILD_FLAGS for alias in flag.aliases if len(alias) == 2}


def _take_option(arg: str, rest: list[str], given: dict[str, list[str]]) -> bool:
    """Take `arg` (and the value after it, from `rest`) as click does: a long option, with its value attached
    by "=" or next; else, unless it starts with "--", a run of short options ("-qt NAME", "-tNAME")."""
    name, separator, attached = arg.partition("=")
    flag = _LONG.get(name)
    if flag is not None:
        if flag.kind == "flag":
            if separator:
                return False  # "--quiet=x": click says the option takes no value
            given.setdefault(flag.name, []).append("")
            return True
        if not separator:
            if not rest:
                return False
            attached = rest.pop(0)
        given.setdefault(flag.name, []).append(attached)
        return True
    if arg[:2] == "--":
        return False
    for position in range(1, len(arg)):
        flag = _SHORT.get("-" + arg[position])
        if flag is None:
            return False
        if flag.kind == "flag":
            given.setdefault(flag.name, []).append("")
            continue
        if position + 1 < len(arg):
            value = arg[position + 1 :]  # the rest of the word, "=" and all, is the value
        elif rest:
            value = rest.pop(0)  # the next word, whatever it looks like
        else:
            return False
        given.setdefault(flag.name, []).append(value)
        return True
    return True


# -- click's conversions, for the types the table uses ---------------------------------------------------------

_REFUSED = object()  # a value click would refuse (its message is click's to give)


def _value(flag: Flag, given: list[str] | None) -> object:
    if flag.kind == "flag":
        return given is not None
    if flag.kind == "multiple":
        converted = tuple(_converted(flag, value) for value in given or ())
        return _REFUSED if _REFUSED in converted else converted
    if given is None:
        return flag.default
    return _converted(flag, given[-1])


def _converted(flag: Flag, value: str) -> object:
    if flag.choices and value not in flag.choices:
        return _REFUSED
    match flag.type:
        case "text":
            return value
        case "positive":
            try:
                number = int(value)
            except ValueError:
                return _REFUSED
            return number if number >= 1 else _REFUSED
        case "file":
            return Path(value) if _path_accepted(value, file_okay=True, dir_okay=False) else _REFUSED
        case "directory":
            return Path(value) if _path_accepted(value, file_okay=False, dir_okay=True) else _REFUSED
        case _:
            assert_never(flag.type)


def _path_accepted(value: str, *, file_okay: bool, dir_okay: bool) -> bool:
    """click.Path(exists=False)'s checks: a path that is not there is fine; one that is must be of a kind it
    takes, and readable."""
    try:
        info = os.stat(value)
    except OSError:
        return True
    except ValueError:
        return False  # a NUL in the path: click's os.stat fails too
    if not file_okay and stat.S_ISREG(info.st_mode):
        return False
    if not dir_okay and stat.S_ISDIR(info.st_mode):
        return False
    return os.access(value, os.R_OK)
