"""Go's `path.Match` patterns as regular expressions: the one translation that .dockerignore patterns
(frontend/ignore.py, which adds `**` on top), COPY sources (worker/_glob.py) and `images --filter
reference=` (cli/_image_views.py) share.

The grammar is Go's: `*` is any run of characters but `/`, `?` one character but `/`, `\\x` the character
x, and `[...]` a class of characters and ranges, negated by a leading `^`, whose members may be escaped;
a class never starts a member with `-` or `]` (Go's getEsc). One deliberate difference: Go rejects a
pattern only when matching reaches the bad part and never matches a reversed range (`[z-a]`); here every
bad pattern, reversed ranges too, is rejected when it is translated, so an error never depends on the
name matched. Pure and standard library only: the callers wrap `BadPattern` in their own error.
"""

from __future__ import annotations

import re

__all__ = ["BadPattern", "compile_pattern", "translate", "translate_class", "translate_escape"]


class BadPattern(ValueError):
    """A pattern Go's path.Match rejects (its ErrBadPattern); the message says why."""


def translate(pattern: str) -> str:
    """The regular expression, for `fullmatch` with re.DOTALL, of one path.Match pattern."""
    parts: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        position += 1
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif char == "\\":
            escaped, position = translate_escape(pattern, position)
            parts.append(escaped)
        elif char == "[":
            class_regexp, position, _ = translate_class(pattern, position)
            parts.append(class_regexp)
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """`translate` compiled: `compile_pattern(p).fullmatch(name)` is Go's `path.Match(p, name)`."""
    return re.compile(translate(pattern), re.DOTALL)


def translate_escape(text: str, position: int) -> tuple[str, int]:
    """The character escaped by the "\\" that ends just before `position`, and the position after it."""
    if position == len(text):
        raise BadPattern("it ends with a lone '\\'")
    return re.escape(text[position]), position + 1


def translate_class(text: str, position: int) -> tuple[str, int, bool]:
    """Read a `[...]` class whose "[" ends just before `position`, with path.Match's grammar.
    Returns the regexp class, the position after "]", and whether the class could match "/"."""
    is_negated = text.startswith("^", position)
    if is_negated:
        position += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if text.startswith("]", position) and ranges:
            position += 1
            break
        low, position = _class_char(text, position)
        high = low
        if text[position] == "-":
            high, position = _class_char(text, position + 1)
        if low > high:
            raise BadPattern(f"the range {low}-{high} runs backwards")
        ranges.append((low, high))
    body = "".join(
        re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}" for low, high in ranges
    )
    covers_slash = any(low <= "/" <= high for low, high in ranges)
    return f"[{'^' if is_negated else ''}{body}]", position, covers_slash or is_negated


def _class_char(text: str, position: int) -> tuple[str, int]:
    """Go's getEsc: one class character, maybe escaped, that must be followed by more of the class."""
    if position >= len(text):
        raise BadPattern("a '[' has no closing ']'")
    if text[position] in "-]":
        raise BadPattern(f"a character class has a misplaced {text[position]!r}")
    if text[position] == "\\":
        position += 1
        if position >= len(text):
            raise BadPattern("a '[' has no closing ']'")
    char = text[position]
    position += 1
    if position >= len(text):
        raise BadPattern("a '[' has no closing ']'")
    return char, position
