"""Which repositories of a registry are known to hold a blob: the candidates for a cross-repository mount.

Kept in its own small SQLite file in the store root (`<root>/registry-blobs.db`), written after every pull and
push; a stale row costs one refused mount, which falls back to an upload.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from slipway.errors import StoreError
from slipway.image.oci import Digest

FILE_NAME = "registry-blobs.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS blob_sources (
    registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (registry, digest, repository)
) WITHOUT ROWID
"""


class BlobSources:
    def __init__(self, root: Path) -> None:
        self.path = root / FILE_NAME
        # Once, before any thread: switching to WAL takes an exclusive lock that does not wait for others.
        with self._connection() as connection, connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)

    def record(self, registry: str, repository: str, digests: Iterable[Digest]) -> None:
        rows = [(registry, repository, digest) for digest in digests]
        with self._connection() as connection, connection:
            connection.executemany("INSERT OR IGNORE INTO blob_sources VALUES (?, ?, ?)", rows)

    def repositories(self, registry: str, digest: Digest) -> list[str]:
        with self._connection() as connection:
            cursor = connection.execute(
                "SELECT repository FROM blob_sources WHERE registry = ? AND digest = ? ORDER BY repository",
                (registry, digest),
            )
            return [row[0] for row in cursor]

    def forget(self, registry: str, repository: str, digest: Digest) -> None:
        with self._connection() as connection, connection:
            connection.execute(
                "DELETE FROM blob_sources WHERE registry = ? AND repository = ? AND digest = ?",
                (registry, repository, digest),
            )

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: callers are threads of a pull or push, and separate processes on one root.
        try:
            connection = sqlite3.connect(self.path, timeout=30.0)
        except sqlite3.Error as err:
            raise StoreError(f"cannot open {self.path}: {err}") from err
        try:
            yield connection
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: {err}") from err
        finally:
            connection.close()
