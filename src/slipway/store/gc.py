"""Garbage collection and consistency checks of a store: decide here, act in the Store.

What is needed: every image (its manifest, config and layer blobs, and the snapshots of its chain ids),
every cache record's snapshot, every active snapshot of a live process, every snapshot a live process holds
(a lease: a running build's results, the image a `slipway run` container runs on), the parents of those, and
the layer blobs recorded for the diff_ids of the snapshots that stay (a cached step exports them later).
"""

from __future__ import annotations

import msgspec

from slipway.errors import StoreDamaged
from slipway.image.layers import LayerInfo
from slipway.image.oci import DiffID, Digest, chain_ids
from slipway.store._owners import is_alive
from slipway.store.meta import ImageRow, SnapshotRow, Transaction

__all__ = ["GcPlan", "find_problems", "plan_gc"]


class GcPlan(msgspec.Struct, frozen=True):
    snapshots: tuple[int, ...]  # children before parents
    orphaned_dirs: tuple[int, ...]  # snapshot dirs without a row (left by a crash)
    blobs: tuple[Digest, ...]
    layer_records: tuple[Digest, ...]


def plan_gc(tx: Transaction, blobs_on_disk: set[Digest], dirs_on_disk: set[int]) -> GcPlan:
    """What to remove, from the rows of one write transaction and the listings taken inside it (so nothing
    created after it is a candidate)."""
    rows = {row.id: row for row in tx.snapshots()}
    images = tx.images()
    held = {snapshot_id for owner, snapshot_id in tx.held_snapshots() if is_alive(owner)}
    doomed = set(rows) - _needed_snapshots(rows, images, tx.cache_snapshot_ids() | held)
    needed_blobs = _image_blobs(images)
    for row in rows.values():
        if row.id not in doomed and row.diff_id is not None:
            needed_blobs.update(info.descriptor.digest for info in tx.layers_by_diff_id(row.diff_id))
    return GcPlan(
        snapshots=tuple(sorted(doomed, reverse=True)),  # ids grow, so children have larger ids than parents
        orphaned_dirs=tuple(sorted(dirs_on_disk - set(rows))),
        blobs=tuple(sorted(blobs_on_disk - needed_blobs)),
        layer_records=tuple(
            info.descriptor.digest for info in tx.all_layers() if info.descriptor.digest not in needed_blobs
        ),
    )


def find_problems(
    images: list[ImageRow],
    layer_blobs: set[Digest],
    blobs_on_disk: set[Digest],
    corrupt: set[Digest],
) -> list[str]:
    """Problems with blobs: corrupt (content no longer matches the name), missing, orphaned."""
    problems = [
        f"corrupt blob {digest}: its content no longer matches its digest" for digest in sorted(corrupt)
    ]
    referenced = set(layer_blobs)
    for image in images:
        try:
            manifest, _ = image.decoded()
        except StoreDamaged as err:
            problems.append(str(err))
            continue
        parts = {image.manifest_digest: "manifest", manifest.config.digest: "config"}
        parts.update({layer.digest: "layer" for layer in manifest.layers})
        for digest, part in parts.items():
            referenced.add(digest)
            if digest not in blobs_on_disk:
                problems.append(
                    f"missing blob {digest}: the {part} of image {image.id}; pull or load it again"
                )
    problems += [
        f"orphaned blob {digest}: no image or layer uses it (gc removes it)"
        for digest in sorted(blobs_on_disk - referenced)
    ]
    return problems


def _needed_snapshots(rows: dict[int, SnapshotRow], images: list[ImageRow], kept: set[int]) -> set[int]:
    wanted_chains: set[str] = set()
    for image in images:
        wanted_chains.update(chain_ids(image.decoded()[1].rootfs.diff_ids))
    roots = set(kept)
    for row in rows.values():
        is_wanted = (
            row.chain_id in wanted_chains if row.committed else row.owner is not None and is_alive(row.owner)
        )
        if is_wanted:
            roots.add(row.id)
    needed: set[int] = set()
    for snapshot_id in roots:
        current: int | None = snapshot_id
        while current is not None and current not in needed and current in rows:
            needed.add(current)
            current = rows[current].parent
    return needed


def _image_blobs(images: list[ImageRow]) -> set[Digest]:
    needed: set[Digest] = set()
    for image in images:
        manifest, _ = image.decoded()
        needed.add(image.manifest_digest)
        needed.add(manifest.config.digest)
        needed.update(layer.digest for layer in manifest.layers)
    return needed


def blob_snapshot_problems(
    snapshots: list[SnapshotRow], layers: list[LayerInfo], blobs_on_disk: set[Digest]
) -> list[str]:
    """A snapshot still only its layer's blob (a cache import's) none of whose blobs is left: its tree cannot be
    made."""
    blobs_of: dict[DiffID, list[Digest]] = {}
    for info in layers:
        blobs_of.setdefault(info.diff_id, []).append(info.descriptor.digest)
    problems = []
    for row in snapshots:
        if row.committed and not row.unpacked and row.diff_id is not None:
            blobs = blobs_of.get(row.diff_id, [])
            if not any(digest in blobs_on_disk for digest in blobs):
                problems.append(
                    f"missing blob {blobs[0] if blobs else row.diff_id}: the layer of snapshot {row.id}, not "
                    "unpacked yet (a build cache import's); `slipway builder prune` drops the cache that refers to it"
                )
    return problems
