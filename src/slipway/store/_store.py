"""The Store facade: blobs, image records, layers, snapshots and build cache records under one root."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from slipway.image.layers import LayerInfo
from slipway.image.oci import DiffID, Digest, ImageConfig, Manifest
from slipway.store.blobs import BlobWriter
from slipway.store.records import ImageRecord, SnapshotRecord

__all__ = ["Store"]


class Store:
    """One store root. Safe to share between threads; several processes may open the same root."""

    root: Path

    @classmethod
    def open(cls, root: Path) -> Store:
        """Make the layout, open meta.db, clean tmp/ of dead processes. Use as `with Store.open(root) as store:`."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def lease(self) -> AbstractContextManager[None]:
        """Keep gc() (in any thread or process) from collecting what is put inside the block: hold it from the
        first put_blob/create_snapshot of a build until add_image/cache_record. gc() waits for leases to end."""
        raise NotImplementedError

    def temp_dir(self, prefix: str = "tmp") -> AbstractContextManager[Path]:
        """A fresh directory under <root>/tmp, removed on exit."""
        raise NotImplementedError

    # blobs

    def has_blob(self, digest: Digest) -> bool:
        raise NotImplementedError

    def blob_path(self, digest: Digest) -> Path:
        """BlobNotFound if absent."""
        raise NotImplementedError

    def open_blob(self, digest: Digest) -> BinaryIO:
        """BlobNotFound if absent."""
        raise NotImplementedError

    def read_blob(self, digest: Digest) -> bytes:
        raise NotImplementedError

    def put_blob(self, data: bytes, expected: Digest | None = None) -> Digest:
        """DigestMismatch if `expected` is given and differs."""
        raise NotImplementedError

    def ingest(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> AbstractContextManager[BlobWriter]:
        """`with store.ingest() as writer: writer.write(chunk)`; afterwards writer.digest/size are set and the blob
        is in place. On any exception, or a digest/size mismatch (DigestMismatch), nothing stays."""
        raise NotImplementedError

    # layers

    def record_layer(self, info: LayerInfo) -> None:
        raise NotImplementedError

    def layer_by_diff_id(self, diff_id: DiffID) -> LayerInfo | None:
        raise NotImplementedError

    # images

    def add_image(
        self,
        manifest: Manifest,
        config: ImageConfig,
        names: Sequence[str] = (),
        *,
        manifest_digest: Digest | None = None,
    ) -> ImageRecord:
        """Store the config and manifest blobs, record the layers' diff_ids and tag `names`, in one transaction.

        Every layer blob must be in the store already (StoreError otherwise). A name that pointed at another
        image moves; the old image stays, untagged. To keep digests of images from outside byte-exact, put the
        original config (and manifest) bytes with `put_blob` first: a config blob already stored under
        `manifest.config.digest` is used as is, and `manifest_digest` names the stored manifest blob.
        """
        raise NotImplementedError

    def resolve_image(self, ref: str) -> ImageRecord:
        """A name ("golang:1.24"), a full or unique-prefix image ID ("sha256:ab12...", "ab12"), or
        "name@sha256:<manifest digest>"; ImageNotFound naming `ref` otherwise."""
        raise NotImplementedError

    def list_images(self) -> list[ImageRecord]:
        raise NotImplementedError

    def tag_image(self, image: ImageRecord, name: str) -> None:
        raise NotImplementedError

    def untag(self, name: str) -> ImageRecord | None:
        raise NotImplementedError

    def remove_image(self, image: ImageRecord) -> None:
        raise NotImplementedError

    # snapshots

    def snapshot_for_image(self, image: ImageRecord) -> SnapshotRecord | None:
        raise NotImplementedError

    def create_snapshot(self, parent: int | None) -> SnapshotRecord:
        raise NotImplementedError

    def commit_snapshot(self, snapshot_id: int) -> SnapshotRecord:
        raise NotImplementedError

    def set_snapshot_layer(self, snapshot_id: int, info: LayerInfo) -> SnapshotRecord:
        raise NotImplementedError

    def get_snapshot(self, snapshot_id: int) -> SnapshotRecord:
        raise NotImplementedError

    def snapshot_chain(self, snapshot_id: int) -> list[SnapshotRecord]:
        raise NotImplementedError

    def remove_snapshot(self, snapshot_id: int) -> None:
        raise NotImplementedError

    # build cache

    def cache_lookup(self, key: str) -> SnapshotRecord | None:
        raise NotImplementedError

    def cache_record(self, key: str, snapshot_id: int) -> None:
        raise NotImplementedError

    # maintenance

    def gc(self) -> int:
        raise NotImplementedError

    def check(self) -> list[str]:
        raise NotImplementedError
