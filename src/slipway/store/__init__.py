"""slipway.store: content-addressed blobs, image records, snapshots and build cache records (see DESIGN.md).

A `Store` hands out its parts, each a Protocol: `store.blobs` (ContentStore), `store.images` (ImageStore),
`store.snapshots` (Snapshotter), `store.cache` (CacheRecords), `store.memos` and `store.leases`.

Loaded on first use, so that the memo lookup (slipway.store.memos, standard library only) answers a no-op
rebuild without importing the rest of the store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from slipway._lazy import lazy_attributes

if TYPE_CHECKING:
    from slipway.store._store import Store
    from slipway.store.blob_batch import BlobBatch
    from slipway.store.blob_files import BlobWriter
    from slipway.store.blob_sources import BlobSources
    from slipway.store.blobs import BlobIngester, ChunkSink, ContentStore
    from slipway.store.cache import CacheRecords
    from slipway.store.direct import DirectFile
    from slipway.store.images import ImageStore
    from slipway.store.leases import Hold, Lease, Leases
    from slipway.store.memos import Memos
    from slipway.store.records import CacheEntry, ImageRecord, SnapshotRecord
    from slipway.store.snapshotter import NewTree, PrepareMode, Snapshotter
    from slipway.store.space import (
        as_disk_full,
        is_full,
        is_no_space,
        naming_disk_full,
        no_space,
        reporting_no_space,
    )

# What a store keeps under its root, beside the parts _store.py lists: named here, where the parts that work
# without a Store (the memo lookup) and other rooms (slipway.registry) find them without loading the store.
META_DB = "meta.db"
REGISTRIES_FILE = "registries.json"  # the user's {"insecure-registries": [...]}, read by slipway.registry
META_RESERVE = "meta.reserve"  # space held back for meta.db on a full disk (space.py)
ROOT_VARIABLE = "SLIPWAY_ROOT"  # the store root, when --root is not given


__all__ = [
    "META_DB",
    "META_RESERVE",
    "REGISTRIES_FILE",
    "ROOT_VARIABLE",
    "BlobBatch",
    "BlobIngester",
    "BlobSources",
    "BlobWriter",
    "CacheEntry",
    "CacheRecords",
    "ChunkSink",
    "ContentStore",
    "DirectFile",
    "Hold",
    "ImageRecord",
    "ImageStore",
    "Lease",
    "Leases",
    "Memos",
    "NewTree",
    "PrepareMode",
    "SnapshotRecord",
    "Snapshotter",
    "Store",
    "as_disk_full",
    "default_root",
    "is_full",
    "is_no_space",
    "naming_disk_full",
    "no_space",
    "reporting_no_space",
]

_LAZY = {
    "Store": "slipway.store._store",
    "BlobBatch": "slipway.store.blob_batch",
    "BlobIngester": "slipway.store.blobs",
    "BlobSources": "slipway.store.blob_sources",
    "BlobWriter": "slipway.store.blob_files",
    "CacheEntry": "slipway.store.records",
    "CacheRecords": "slipway.store.cache",
    "ChunkSink": "slipway.store.blobs",
    "ContentStore": "slipway.store.blobs",
    "DirectFile": "slipway.store.direct",
    "Hold": "slipway.store.leases",
    "ImageRecord": "slipway.store.records",
    "ImageStore": "slipway.store.images",
    "Lease": "slipway.store.leases",
    "Leases": "slipway.store.leases",
    "Memos": "slipway.store.memos",
    "NewTree": "slipway.store.snapshotter",
    "PrepareMode": "slipway.store.snapshotter",
    "SnapshotRecord": "slipway.store.records",
    "Snapshotter": "slipway.store.snapshotter",
    "as_disk_full": "slipway.store.space",
    "is_full": "slipway.store.space",
    "is_no_space": "slipway.store.space",
    "naming_disk_full": "slipway.store.space",
    "no_space": "slipway.store.space",
    "reporting_no_space": "slipway.store.space",
}


def default_root(explicit: str | None = None) -> Path:
    """The store root: `explicit` (--root, or $SLIPWAY_ROOT, as given), else /var/lib/slipway for root and
    $XDG_DATA_HOME/slipway (~/.local/share/slipway) for anyone else. Here, beside the store's file names, so
    the command line (its fast path too) and the Python API find the same store without loading it."""
    from slipway.choices import ROOTLESS_VARIABLE  # here: the memo lookup imports this package, not choices

    if explicit:
        return Path(explicit).absolute()
    # Rootless slipway is root in its own user namespace (worker/userns.py), where the store is still the user's.
    if os.geteuid() == 0 and ROOTLESS_VARIABLE not in os.environ:
        return Path("/var/lib/slipway")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "slipway"


__getattr__ = lazy_attributes(__name__, _LAZY)
