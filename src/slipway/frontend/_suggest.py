"""Suggestions for a mistyped name ("did you mean X?"), found as BuildKit's util/suggest finds them.

The candidate at the smallest Levenshtein distance under 3 wins (the first one on a tie); a name that is
itself known is no typo, so it gets no suggestion. Case-insensitive searches answer in the case the user
wrote (`bulid` -> `build`, `BULID` -> `BUILD`).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["did_you_mean", "suggest"]

_MAX_DISTANCE = 3  # BuildKit's (and HCL's): a suggestion must be closer than this


def suggest(value: str, options: Iterable[str], *, case_sensitive: bool = True) -> str | None:
    """The option closest to `value`, or None when none is close or `value` is itself an option."""
    wanted = value if case_sensitive else value.lower()
    match: str | None = None
    best = _MAX_DISTANCE
    for option in options:
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return None  # an exact match: whatever failed, it was not a typo
        distance = _levenshtein(wanted, candidate, best)
        if distance < best:
            match = candidate if case_sensitive else _match_case(candidate, value)
            best = distance
    return match


def did_you_mean(message: str, value: str, options: Iterable[str], *, case_sensitive: bool = True) -> str:
    """`message` with BuildKit's " (did you mean X?)" when an option is close to `value`."""
    match = suggest(value, options, case_sensitive=case_sensitive)
    return f"{message} (did you mean {match}?)" if match else message


def _levenshtein(first: str, second: str, limit: int) -> int:
    """Edit distance (insert, delete, substitute: 1 each); anything at `limit` or past it is `limit`."""
    if abs(len(first) - len(second)) >= limit:
        return limit
    previous = list(range(len(second) + 1))
    for row, char in enumerate(first, start=1):
        current = [row]
        for column, other in enumerate(second, start=1):
            cost = 0 if char == other else 1
            current.append(min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + cost))
        if min(current) >= limit:
            return limit
        previous = current
    return min(previous[-1], limit)


def _match_case(option: str, written: str) -> str:
    if written == written.lower():
        return option.lower()
    if written == written.upper():
        return option.upper()
    return option
