"""What solving one vertex yields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec

from slipway.graph.ops import Copy, Exec, Mkdir
from slipway.store import SnapshotRecord

__all__ = ["CACHED_OPS", "Result"]

# The ops whose results are cache records, looked up before they run (sources never are): what a cached build
# reports as CACHED, and what --cache-to exports.
CACHED_OPS = (Exec, Copy, Mkdir)


class Result(msgspec.Struct, frozen=True):
    """A vertex's output: a snapshot chain (file systems), or a local tree (context, inline files, downloads).

    `cache_key` covers the vertex's definition and the content it depends on; results with equal keys are
    interchangeable. A snapshot of None is the empty file system (FROM scratch).
    """

    cache_key: str
    snapshot: SnapshotRecord | None = None
    tree: Path | None = None
    is_excluded: Callable[[str], bool] | None = None  # hides ignored context files
    can_skip_dir: Callable[[str], bool] | None = None
    origin: Literal["fs", "context", "inline", "remote"] = "fs"  # COPY keeps owners only from file systems
    fetch: Callable[[], Path] | None = None  # makes `tree` when a step needs it (a download not made yet)
