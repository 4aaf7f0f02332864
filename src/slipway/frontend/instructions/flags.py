"""Instruction flags (BuildKit's instructions/bflag.go): which flags each instruction takes and how
`--name=value` is read."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from slipway.frontend._suggest import did_you_mean
from slipway.frontend.instructions.commands import InvalidValue

_BOOL: Literal["bool"] = "bool"

_STRING: Literal["string"] = "string"

_STRINGS: Literal["strings"] = "strings"  # repeatable

FlagKind = Literal["bool", "string", "strings"]

# Exactly the flags BuildKit's dockerfile:1 frontend registers for each instruction.
FLAGS: Mapping[str, Mapping[str, FlagKind]] = MappingProxyType(
    {
        "from": MappingProxyType({"platform": _STRING}),
        "run": MappingProxyType({"mount": _STRINGS, "network": _STRING, "security": _STRING}),
        "copy": MappingProxyType(
            {
                "from": _STRING,
                "chown": _STRING,
                "chmod": _STRING,
                "link": _BOOL,
                "parents": _BOOL,
                "exclude": _STRINGS,
            }
        ),
        "add": MappingProxyType(
            {
                "chown": _STRING,
                "chmod": _STRING,
                "link": _BOOL,
                "checksum": _STRING,
                "keep-git-dir": _BOOL,
                "exclude": _STRINGS,
                "unpack": _BOOL,
            }
        ),
        "healthcheck": MappingProxyType(
            {
                "interval": _STRING,
                "timeout": _STRING,
                "start-period": _STRING,
                "start-interval": _STRING,
                "retries": _STRING,
            }
        ),
    }
)

FlagValue = str | bool | tuple[str, ...]


def parse_flags(keyword: str, written: tuple[str, ...]) -> dict[str, FlagValue]:
    """BuildKit's BFlags.Parse: `--name=value`, booleans as `--name` or `--name=true|false`."""
    accepted = FLAGS.get(keyword, {})
    values: dict[str, FlagValue] = {}
    for flag in written:
        if not flag.startswith("--") or flag == "--":
            raise InvalidValue(f"flag {flag!r} should start with --")
        name, has_value, value = flag[2:].partition("=")
        kind = accepted.get(name)
        if kind is None:
            raise InvalidValue(_unknown_flag_message(keyword, name, accepted))
        if name in values and kind != _STRINGS:
            raise InvalidValue(f"--{name} is given twice")
        if kind == _BOOL:
            values[name] = _bool_flag(name, value, has_value=bool(has_value))
        elif not has_value:
            raise InvalidValue(f"--{name} needs a value (--{name}=...)")
        elif kind == _STRINGS:
            previous = values.get(name, ())
            assert isinstance(previous, tuple)
            values[name] = (*previous, value)
        else:
            values[name] = value
    return values


def _unknown_flag_message(keyword: str, name: str, accepted: Mapping[str, FlagKind]) -> str:
    """BuildKit's "unknown flag: --mont (did you mean mount?)"; without a close name, what is accepted."""
    message = did_you_mean(f"unknown flag: --{name}", name, accepted)
    if message.endswith("?)"):
        return message
    owners = [other.upper() for other, flags in FLAGS.items() if name in flags and other != keyword]
    where = f" (--{name} is a flag of {' and '.join(owners)})" if owners else ""
    if accepted:
        return f"{message}{where}; {keyword.upper()} accepts {', '.join('--' + f for f in accepted)}"
    return f"{message}{where}; {keyword.upper()} takes no flags"


def _bool_flag(name: str, value: str, *, has_value: bool) -> bool:
    if has_value and value == "":
        raise InvalidValue(f"--{name} needs a value: write --{name} or --{name}=true|false")
    if not has_value or value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise InvalidValue(f"--{name} expects true or false, not {value!r}")


def string_flag(flags: Mapping[str, FlagValue], name: str) -> str | None:
    value = flags.get(name)
    if value is None:
        return None
    assert isinstance(value, str)
    if value == "":
        raise InvalidValue(f"--{name} needs a value (--{name}=...)")
    return value


def strings_flag(flags: Mapping[str, FlagValue], name: str) -> tuple[str, ...]:
    value = flags.get(name, ())
    assert isinstance(value, tuple)
    return value


def bool_or_none(flags: Mapping[str, FlagValue], name: str) -> bool | None:
    value = flags.get(name)
    assert value is None or isinstance(value, bool)
    return value
