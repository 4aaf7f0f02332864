"""Pruning the build cache: which cache records to forget, then a gc of what only they kept.

A record is "in use" when its snapshot's layer is part of an image in the store; removing it would not free
space anyway, since the image keeps the layer. Images never lose a layer: gc() keeps what images need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slipway.store._store import Store
from slipway.store.records import CacheEntry


@dataclass(frozen=True, slots=True)
class PrunePolicy:
    everything: bool = False  # -a: in-use records too
    older_than: float | None = None  # until=DURATION, in seconds
    keep_bytes: int | None = None  # --keep-storage: the newest records up to this size stay


def choose_records(
    entries: list[CacheEntry], sizes: dict[int, int], in_use: set[int], policy: PrunePolicy, now: float
) -> list[CacheEntry]:
    """The records to forget, oldest first (pure, so it is tested without a store)."""
    candidates = [entry for entry in entries if policy.everything or entry.snapshot_id not in in_use]
    if policy.older_than is not None:
        candidates = [entry for entry in candidates if now - entry.created >= policy.older_than]
    if policy.keep_bytes is None:
        return candidates
    total = sum(sizes.get(entry.snapshot_id, 0) for entry in entries)
    chosen = []
    for entry in candidates:  # oldest first, until what stays fits
        if total <= policy.keep_bytes:
            break
        chosen.append(entry)
        total -= sizes.get(entry.snapshot_id, 0)
    return chosen


def prune_build_cache(
    store: Store, policy: PrunePolicy, *, now: float, on_wait: Callable[[list[int]], None] | None = None
) -> tuple[list[str], int]:
    """Forget the chosen records and collect what only they kept: (keys removed, bytes freed). `on_wait` as
    for Store.gc."""
    entries = store.cache.entries()
    image_layers = {diff_id for image in store.images.list() for diff_id in image.config.rootfs.diff_ids}
    in_use = {
        entry.snapshot_id
        for entry in entries
        if store.snapshots.get(entry.snapshot_id).diff_id in image_layers
    }
    sizes = {entry.snapshot_id: store.snapshots.usage(entry.snapshot_id) for entry in entries}
    chosen = choose_records(entries, sizes, in_use, policy, now)
    # The memos of builds that used these records go with them: the next build runs its steps again.
    store.cache.forget([entry.key for entry in chosen])
    freed = store.gc(on_wait=on_wait)
    return [entry.key for entry in chosen], freed
