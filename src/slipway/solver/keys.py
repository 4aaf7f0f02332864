"""Cache keys: a vertex's definition plus what its inputs hold, like BuildKit's cache keys.

The definition digest alone is not enough: a COPY from the build context must miss when a selected file's
content changes, though the Dockerfile did not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def combine(kind: str, digest: str, parts: Iterable[str]) -> str:
    text = "\0".join((kind, digest, *parts))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
