"""Sizes and times as the docker CLI prints them (docker/go-units HumanSize, HumanDuration)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


@functools.cache
def _fraction_pattern() -> re.Pattern[str]:
    return re.compile(r"\.(\d+)")


def human_size(size: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision: decimal units, `precision` significant digits ("2.1MB", "812MB").
    `docker images` and `docker history` use precision 3, HumanSize (reclaimed space) 4."""
    unit = 0
    while size >= 1000 and unit < len(_DECIMAL_UNITS) - 1:
        size /= 1000
        unit += 1
    # Go's %.*g and Python's agree, including the exponent form ("1e+03kB") go-units shows for 999.95kB.
    return f"{size:.{precision}g}{_DECIMAL_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks", "56 years"."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time from an image config (nanoseconds allowed); None when absent or unreadable."""
    if not text:
        return None
    # datetime takes at most microseconds: cut the fraction to six digits.
    trimmed = _fraction_pattern().sub(lambda match: "." + match.group(1)[:6], text, count=1)
    try:
        parsed = datetime.fromisoformat(trimmed)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def since(created: datetime | None, now: datetime) -> str:
    """The CREATED column: "2 minutes ago"; "N/A" without a time, as docker shows."""
    if created is None:
        return "N/A"
    return human_duration((now - created).total_seconds()) + " ago"


def created_at(created: datetime | None) -> str:
    """The CREATED AT field, as Go prints a time.Time in the local zone ("2024-01-02 15:04:05 +0000 UTC")."""
    if created is None:
        return ""
    local = created.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %z ") + (local.tzname() or "")


def rfc3339(created: datetime | None) -> str:
    """Go's time.RFC3339 in the local zone: "2024-01-02T15:04:05Z", or with "+01:00"."""
    if created is None:
        return ""
    local = created.astimezone()
    offset = local.strftime("%z")
    zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + zone
