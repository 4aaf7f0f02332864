"""Go standard-library behaviours that BuildKit's Dockerfile parser inherits, so slipway matches it exactly."""

from __future__ import annotations

import re

__all__ = ["GO_SPACE", "SURROGATE", "go_quote", "replace_surrogates"]

# Go's unicode.IsSpace. Python's str.isspace differs: it also takes \x1c-\x1f.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# A lone UTF-16 surrogate: no Unicode character, so no UTF-8 text can hold one.
SURROGATE = re.compile("[\ud800-\udfff]")


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
    return SURROGATE.sub("\ufffd", text)
