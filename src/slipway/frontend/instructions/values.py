"""Values an instruction holds that are checked as written and again once expanded: signals, --chmod,
Go durations, RAM sizes."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from types import MappingProxyType

from slipway.errors import DockerfileError, SourceLocation
from slipway.frontend.instructions.commands import InvalidValue

# Signal names Linux knows (moby/sys/signal's SignalMap), without the SIG prefix.
_SIGNALS = frozenset(
    (
        *("ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL"),
        *("PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP"),
        *(
            "TTIN",
            "TTOU",
            "URG",
            "USR1",
            "USR2",
            "VTALRM",
            "WINCH",
            "XCPU",
            "XFSZ",
            "RTMIN",
            "RTMAX",
            "UNUSED",
        ),
        *(f"RTMIN+{n}" for n in range(1, 16)),
        *(f"RTMAX-{n}" for n in range(1, 15)),
    )
)


# strconv.Atoi's numbers (ASCII digits that fit an int); longer digit strings are no signal.
@functools.cache
def _signal_number_pattern() -> re.Pattern[str]:
    return re.compile(r"[0-9]{1,18}")


_DURATION_UNITS = MappingProxyType(
    {
        "ns": 1,
        "us": 1_000,
        "µs": 1_000,
        "μs": 1_000,
        "ms": 1_000_000,
        "s": 10**9,
        "m": 60 * 10**9,
        "h": 3600 * 10**9,
    }
)


@functools.cache
def _duration_part_pattern() -> re.Pattern[str]:
    return re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")


@functools.cache
def _ram_size_pattern() -> re.Pattern[str]:
    return re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)", re.IGNORECASE)


@functools.cache
def _chmod_symbolic_pattern() -> re.Pattern[str]:
    return re.compile(r"[ugoa]*[-+=](?:[rwxXst]*|[ugo])(?:,[ugoa]*[-+=](?:[rwxXst]*|[ugo]))*")


def check_chmod(chmod: str) -> None:
    """BuildKit's --chmod rule: octal up to 07777, or a symbolic mode such as u+x,g-w."""
    if chmod[:1].isdigit():  # what looks like a number must be an octal one (BuildKit's words)
        if not chmod.isdigit() or any(digit in "89" for digit in chmod) or int(chmod, 8) > 0o7777:
            raise InvalidValue(
                f"invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and 07777"
            )
        return
    if not _chmod_symbolic_pattern().fullmatch(chmod):
        raise InvalidValue(f"invalid --chmod={chmod}: use an octal mode (0755) or a symbolic one (u+x,g-w)")


def check_signal(signal: str) -> None:
    """moby's ParseSignal: a number other than 0, or a known name with or without SIG."""
    if _signal_number_pattern().fullmatch(signal):
        if int(signal) == 0:
            raise InvalidValue(f"invalid signal {signal!r}")
        return
    name = signal.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name not in _SIGNALS:
        raise InvalidValue(f"invalid signal {signal!r}; use a name such as SIGTERM or a number")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds: "1m30s", "1.5h", "300ms"; ValueError when it is not one."""
    body = text
    sign = 1
    if body[:1] in "+-" and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total = 0.0
    position = 0
    while position < len(body):
        match = _duration_part_pattern().match(body, position)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r} (use units h, m, s, ms, us or ns, e.g. 30s)")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return sign * round(total)


def parse_ram_bytes(text: str) -> int:
    """docker/go-units RAMInBytes: "64m", "1.5GiB", "1024"; binary multiples. ValueError otherwise."""
    match = _ram_size_pattern().fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid size {text!r}")
    unit = "bkmgtp".index(match.group(2).lower() or "b")
    return int(float(match.group(1)) * (1024**unit))


def check_value(check: Callable[[str], None], value: str, location: SourceLocation, keyword: str) -> None:
    try:
        check(value)
    except InvalidValue as err:
        raise DockerfileError(f"{keyword}: {err}", location) from None
