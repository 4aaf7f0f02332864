"""SOURCE_DATE_EPOCH, read one way wherever it comes from: the environment, `--build-arg`, an ARG default, an
output's `source-date-epoch=` (BuildKit's parseTime, exporter/util/epoch).

Standard library only: the command line reads the environment's value before anything else is imported.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["EPOCH_ARG", "MAX_EPOCH", "environment_epoch", "parse_epoch"]

EPOCH_ARG = "SOURCE_DATE_EPOCH"
# 9999-12-31T23:59:59Z: the last second an image's RFC 3339 `created` can hold (and a tar header, its mtime).
MAX_EPOCH = 253_402_300_799


def parse_epoch(text: str) -> int | None:
    """Whole seconds since 1970 (ASCII digits, as Go's strconv.ParseInt reads them); "" is no epoch.
    ValueError, saying why, for anything else."""
    if text == "":
        return None
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError("not a whole number of seconds since 1970-01-01 UTC")
    value = int(text)
    if not 0 <= value <= MAX_EPOCH:
        raise ValueError(f"out of range (0 to {MAX_EPOCH}, the end of year 9999)")
    return value


def environment_epoch(environment: Mapping[str, str]) -> int | None:
    """The environment's SOURCE_DATE_EPOCH; a UsageError naming it when it is not one."""
    value = environment.get(EPOCH_ARG, "")
    try:
        return parse_epoch(value)
    except ValueError as err:
        from slipway.errors import UsageError  # only for the error: slipway.errors imports dataclasses

        raise UsageError(f"{EPOCH_ARG}={value!r}: {err}") from None
