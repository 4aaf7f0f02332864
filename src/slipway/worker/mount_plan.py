"""Mount plans: the root file system a snapshotter hands out, as data; the caller mounts it (snapshots.py).

As containerd's snapshotter returns mounts and never mounts: the store decides what a step's root is without
touching the mount table, and whoever mounts the plan records the mount in its ledger (the store's leases)
first, so a killed process leaves nothing mounted that the next one cannot undo.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

__all__ = ["Direct", "MountPlan", "Overlay"]


class Overlay(msgspec.Struct, frozen=True):
    """`lowers` (bottom first) under one overlay: writable into `upper`, with overlay's `work` dir beside it
    on the same file system, or a read-only view without them. No lowers and no upper: the empty tree."""

    lowers: tuple[Path, ...]
    upper: Path | None = None
    work: Path | None = None


class Direct(msgspec.Struct, frozen=True):
    """A new snapshot's own tree, written in place and mounted nowhere: the step touches nothing below it, so
    what it writes there is exactly its layer."""

    path: Path


MountPlan = Overlay | Direct
