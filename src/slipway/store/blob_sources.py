"""Which repositories of a registry are known to hold a blob: the candidates for a cross-repository mount.

Rows of meta.db's `registry_blobs`, written after every pull and push; a stale row costs one refused mount,
which falls back to an upload.
"""

from __future__ import annotations

from collections.abc import Iterable

from slipway.image.oci import Digest
from slipway.store.meta import MetaDB

__all__ = ["BlobSources"]


class BlobSources:
    """The store's part for blob locations (`store.blob_sources`); safe to use from the threads of a pull."""

    def __init__(self, meta: MetaDB) -> None:
        self._meta = meta

    def record(self, registry: str, repository: str, digests: Iterable[Digest]) -> None:
        rows = [(registry, repository, digest) for digest in digests]
        with self._meta.transaction() as tx:
            tx.connection.executemany(
                "INSERT OR IGNORE INTO registry_blobs (registry, repository, digest) VALUES (?, ?, ?)", rows
            )

    def repositories(self, registry: str, digest: Digest) -> list[str]:
        with self._meta.snapshot() as tx:
            cursor = tx.connection.execute(
                "SELECT repository FROM registry_blobs WHERE registry = ? AND digest = ? ORDER BY repository",
                (registry, digest),
            )
            return [row[0] for row in cursor]

    def forget(self, registry: str, repository: str, digest: Digest) -> None:
        with self._meta.transaction() as tx:
            tx.connection.execute(
                "DELETE FROM registry_blobs WHERE registry = ? AND repository = ? AND digest = ?",
                (registry, repository, digest),
            )
