"""What a server said a downloaded URL was (its ETag and Last-Modified) and the cache key its content had.

A rebuild asks the server whether the URL changed (a HEAD with If-None-Match / If-Modified-Since, as BuildKit's
HTTP source does) instead of downloading it again; only a step whose cache misses then needs the file.
Kept in one small file in the store's cache directory, as the context's file hashes are: losing it costs one
download.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import msgspec

from slipway.solver._cache_file import replace_cache_file

log = logging.getLogger(__name__)

LIMIT = 1000  # URLs remembered; the oldest are forgotten first


class Validator(msgspec.Struct, frozen=True, array_like=True):
    etag: str | None
    last_modified: str | None  # the header as the server wrote it
    content_key: str  # the cache key of what the download held


class Validators:
    """Validators by URL (and checksum), read on first use, written back by `save` if anything changed."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._known: dict[str, Validator] | None = None
        self._dirty = False

    def get(self, key: str) -> Validator | None:
        with self._lock:
            return self._load().get(key)

    def put(self, key: str, validator: Validator) -> None:
        with self._lock:
            known = self._load()
            known.pop(key, None)  # re-inserted last: the newest
            known[key] = validator
            self._dirty = True

    def save(self) -> None:
        with self._lock:
            if not self._dirty or self._known is None:
                return
            entries = list(self._known.items())[-LIMIT:]
        replace_cache_file(self._path, msgspec.msgpack.encode(entries))

    def _load(self) -> dict[str, Validator]:
        if self._known is None:
            self._known = {}
            try:
                data = self._path.read_bytes()
                self._known = dict(msgspec.msgpack.decode(data, type=list[tuple[str, Validator]]))
            except FileNotFoundError:
                pass
            except (OSError, msgspec.DecodeError, msgspec.ValidationError) as err:
                log.debug("ignoring URL validators in %s: %s", self._path, err)
        return self._known
