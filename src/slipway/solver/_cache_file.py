"""The solver's small cache files in the store (file hashes, URL validators): replaced whole, never needed.

A cache file that cannot be written (a full disk) fails no build: the next build recomputes what it held.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def replace_cache_file(path: Path, data: bytes) -> None:
    """Write `data` beside `path` and rename it into place; a failure is logged, not raised."""
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        log.debug("cannot save %s: %s", path, err)
