"""Go standard-library behaviours that BuildKit's Dockerfile parser inherits, so slipway matches it exactly."""

from __future__ import annotations

import functools
import re

__all__ = [
    "GO_SPACE",
    "find_surrogate",
    "go_duration",
    "go_list",
    "go_quote",
    "go_quoted_list",
    "replace_surrogates",
]

# Go's unicode.IsSpace. Python's str.isspace differs: it also takes \x1c-\x1f.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


@functools.cache
def _surrogate_pattern() -> re.Pattern[str]:
    # A lone UTF-16 surrogate: no Unicode character, so no UTF-8 text can hold one.
    return re.compile("[\ud800-\udfff]")


def find_surrogate(text: str) -> re.Match[str] | None:
    """The first lone surrogate in `text`. ASCII text holds none: the pattern (a class of 2,048 characters, ~2M
    instructions to compile) is made only for text that could."""
    return None if text.isascii() else _surrogate_pattern().search(text)


def go_quote(text: str) -> str:
    """Go's strconv.Quote: double quotes, backslash escapes, non-printable characters as \\x, \\u, \\U."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for char in text:
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(_go_escape(char))
    out.append('"')
    return "".join(out)


_GO_NAMED_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _go_escape(char: str) -> str:
    named = _GO_NAMED_ESCAPES.get(char)
    if named:
        return named
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xD800 <= code <= 0xDFFF:
        code = 0xFFFD  # not a valid rune: Go prints the replacement character
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def replace_surrogates(text: str) -> str:
    """Lone UTF-16 surrogates (from a JSON \\ud800) as U+FFFD, as Go's decoder does."""
    return text if text.isascii() else _surrogate_pattern().sub("\ufffd", text)


def go_list(values: tuple[str, ...] | list[str]) -> str:
    """Go's %v of a []string."""
    return "[" + " ".join(values) + "]"


def go_quoted_list(values: tuple[str, ...] | list[str]) -> str:
    """Go's %q of a []string."""
    return "[" + " ".join(go_quote(value) for value in values) + "]"


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String: "0s", "1.5s", "1m30s", "1h0m0s", "300ms"."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return f"{sign}{_fraction(value, 3)}µs"
    if value < 10**9:
        return f"{sign}{_fraction(value, 6)}ms"
    seconds = _fraction(value % (60 * 10**9), 9) + "s"
    minutes_total = value // (60 * 10**9)
    if minutes_total == 0:
        return sign + seconds
    hours = minutes_total // 60
    text = f"{minutes_total % 60}m{seconds}"
    return sign + (f"{hours}h{text}" if hours else text)


def _fraction(value: int, digits: int) -> str:
    whole, part = divmod(value, 10**digits)
    decimals = f"{part:0{digits}d}".rstrip("0")
    return f"{whole}.{decimals}" if decimals else str(whole)
