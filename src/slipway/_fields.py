"""`KEY=VALUE` fields in one comma-separated flag value, read as BuildKit and buildx read `--output`,
`--cache-to`, `--cache-from`, `--call`, `--secret` and RUN `--mount`: one line of Go's encoding/csv (quotes
group commas, as in `"name=a,b"`, and `""` is a quote; a quote left open is an error), then each field cut
at its first `=`. Python's csv module in strict mode reads quoted fields as Go's does.

Standard library only, so the command line may read its flags before anything heavy is imported; callers
wrap `BadFields` in their own error, which names the flag.
"""

from __future__ import annotations

import csv

__all__ = ["BadFields", "key_value", "split_fields"]


class BadFields(ValueError):
    """The value is not one line of CSV (a quote left open, or text after a closing quote)."""


def split_fields(text: str) -> list[str]:
    """The fields of `text`, unquoted; [] for an empty value."""
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as err:
        raise BadFields(str(err)) from None
    return rows[0] if rows else []


def key_value(field: str) -> tuple[str, str] | None:
    """The key of a field, trimmed and lower-cased as buildx compares keys, and its value as written;
    None for a field without `=`."""
    key, separator, value = field.partition("=")
    if not separator:
        return None
    return key.strip().lower(), value
