"""slipway.store: content-addressed blobs, image records, snapshots and build cache records (see DESIGN.md)."""

from slipway.store._store import Store
from slipway.store.blobs import BlobWriter
from slipway.store.records import CacheEntry, ImageRecord, SnapshotRecord

__all__ = ["BlobWriter", "CacheEntry", "ImageRecord", "SnapshotRecord", "Store"]
