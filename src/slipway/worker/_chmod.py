"""COPY --chmod values: octal ("755") or symbolic as chmod(1) ("u+x", "go-w,a+X", "u=rw,g=u")."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from slipway.errors import ContextError

__all__ = ["ModeChange", "octal_chmod", "parse_chmod"]

ModeChange = Callable[[int, bool], int]  # (current mode bits, is a directory) -> new mode bits

WHO_BITS = {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}
PERMISSION_BITS = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}


@functools.cache
def _clause_pattern() -> re.Pattern[str]:
    return re.compile(r"([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)")


@functools.cache
def _action_pattern() -> re.Pattern[str]:
    return re.compile(r"([-+=])([ugo]|[rwxXst]*)")


def octal_chmod(text: str) -> int | None:
    """The mode of an octal --chmod ("755"); None for a symbolic one."""
    return int(text, 8) if re.fullmatch(r"[0-7]{1,4}", text) else None


def parse_chmod(text: str) -> ModeChange:
    value = octal_chmod(text)
    if value is not None:
        return lambda _mode, _is_dir: value
    clauses = []
    for clause in text.split(","):
        match = _clause_pattern().fullmatch(clause)
        if match is None:
            raise ContextError(f"--chmod={text}: not an octal mode or a symbolic mode like u+x,go-w")
        who = match.group(1) or "a"
        mask = 0
        for letter in who:
            mask |= WHO_BITS[letter]
        clauses.append((mask, tuple(_action_pattern().findall(match.group(2)))))

    def change(mode: int, is_dir: bool) -> int:
        for mask, actions in clauses:
            for operator, permissions in actions:
                bits = _bits(permissions, mode, is_dir) & mask
                if operator == "+":
                    mode |= bits
                elif operator == "-":
                    mode &= ~bits
                else:
                    # "=": a directory keeps its setuid/setgid bits unless named, as chmod(1).
                    cleared = mask & (0o1777 if is_dir else 0o7777)
                    mode = (mode & ~cleared) | bits
        return mode & 0o7777

    return change


def _bits(permissions: str, mode: int, is_dir: bool) -> int:
    if permissions in ("u", "g", "o"):
        shift = {"u": 6, "g": 3, "o": 0}[permissions]
        triple = (mode >> shift) & 0o7
        return triple << 6 | triple << 3 | triple
    bits = 0
    for letter in permissions:
        if letter == "X":
            if is_dir or mode & 0o111:
                bits |= 0o111
        else:
            bits |= PERMISSION_BITS[letter]
    return bits
