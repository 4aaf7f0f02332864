"""What the build's command line sets for every RUN step's container: --add-host, --shm-size, --ulimit.

Parsed here once (docker's grammar), carried in each Exec op (part of its digest, as in BuildKit's ExecOp: a
RUN that reads /etc/hosts must not be answered from a build with other hosts), applied by the worker.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence

import msgspec

from slipway.errors import UsageError

__all__ = [
    "RunLimits",
    "Ulimit",
    "ULIMIT_TYPES",
    "parse_add_host",
    "parse_shm_size",
    "parse_ulimit",
    "read_run_limits",
]

# docker's --ulimit names -> the RLIMIT_* the OCI runtime sets.
ULIMIT_TYPES = {
    "core": "RLIMIT_CORE",
    "cpu": "RLIMIT_CPU",
    "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS",
    "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE",
    "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK",
}
_UNLIMITED = 2**64 - 1  # RLIM_INFINITY, as -1 is written


@functools.cache
def _host_name_pattern() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")


@functools.cache
def _size_pattern() -> re.Pattern[str]:
    return re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)b?", re.IGNORECASE)


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class Ulimit(msgspec.Struct, frozen=True):
    type: str  # "RLIMIT_NOFILE"
    soft: int
    hard: int


class RunLimits(msgspec.Struct, frozen=True):
    """The three, as one value the converter puts into each Exec op."""

    extra_hosts: tuple[tuple[str, str], ...] = ()  # (host, ip)
    shm_size: int | None = None  # bytes; None: 64 MiB, as docker
    ulimits: tuple[Ulimit, ...] = ()


def read_run_limits(
    add_hosts: Sequence[str] = (), shm_size: str | None = None, ulimits: Sequence[str] = ()
) -> RunLimits | None:
    """--add-host, --shm-size, --ulimit as one value; None when none is given (the RUN digests stay as they
    were before the flags existed)."""
    if not (add_hosts or shm_size is not None or ulimits):
        return None
    return RunLimits(
        extra_hosts=tuple(parse_add_host(text) for text in add_hosts),
        shm_size=parse_shm_size(shm_size) if shm_size is not None else None,
        ulimits=tuple(parse_ulimit(text) for text in ulimits),
    )


def parse_add_host(text: str) -> tuple[str, str]:
    """--add-host HOST:IP (docker also takes HOST=IP); the IP may be IPv6, so the host ends at the first ":"."""
    separator = "=" if "=" in text else ":"
    host, _, address = text.partition(separator)
    if not _host_name_pattern().fullmatch(host):
        raise UsageError(f"--add-host {text}: {host!r} is not a host name; write HOST:IP, e.g. db:10.0.0.5")
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise UsageError(
            f"--add-host {text}: {address!r} is not an IP address; write HOST:IP, e.g. db:10.0.0.5"
        ) from None
    return host, address.strip("[]")


def parse_shm_size(text: str) -> int:
    """--shm-size: bytes, or a number with k, m, g or t (binary units, as docker reads them)."""
    match = _size_pattern().fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--shm-size {text}: not a size; write bytes or a number with a unit: 128m, 1g")
    size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    if size <= 0:
        raise UsageError(f"--shm-size {text}: the size must be more than 0")
    return size


def parse_ulimit(text: str) -> Ulimit:
    """--ulimit TYPE=SOFT[:HARD] (docker's; -1 is unlimited; HARD defaults to SOFT)."""
    name, _, values = text.partition("=")
    kind = ULIMIT_TYPES.get(name.strip())
    if kind is None:
        raise UsageError(f"--ulimit {text}: unknown type {name!r}; one of {', '.join(ULIMIT_TYPES)}")
    soft_text, _, hard_text = values.partition(":")
    soft, hard = _limit(soft_text, text), _limit(hard_text or soft_text, text)
    if soft > hard:
        raise UsageError(f"--ulimit {text}: the soft limit {soft_text} is above the hard limit {hard_text}")
    return Ulimit(type=kind, soft=soft, hard=hard)


def _limit(value: str, text: str) -> int:
    if value.strip() == "-1":
        return _UNLIMITED
    if not value.strip().isdigit():
        raise UsageError(
            f"--ulimit {text}: {value!r} is not a limit; write TYPE=SOFT[:HARD], e.g. nofile=1024:2048"
        )
    return int(value)
