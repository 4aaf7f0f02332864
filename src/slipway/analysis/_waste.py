"""Wasted bytes and the efficiency score, by dive's rules (wagoodman/dive, dive/filetree/efficiency.go). Pure.

dive builds one tree per layer from its tar entries and visits each tree's leaves (nodes without children in
that layer: files, whiteouts, directories with no entry below them in the layer). Every leaf adds its size to
its path's total; a whiteout's size is the sum of what it hides when that was a directory, and 0 when it was
a file. A path seen in two or more layers is inefficient and all of its total is waste, the copy that stays
included. The score is the sum over all paths of their smallest size divided by the sum of their totals (1 if
nothing has a size). Opaque directory markers are not entries of dive's trees, so they add nothing. Sizes are
tar header sizes (regular files; 0 for the rest). Where dive stops visiting a layer whose whiteout names a path
absent below (a bug that skips the rest of the layer), this counts the whiteout as 0 and goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slipway.analysis._tree import Tree, parent_dirs
from slipway.image.layers import LayerEntry

__all__ = ["Inefficiency", "Waste", "measure_waste"]


@dataclass(frozen=True, slots=True)
class Inefficiency:
    path: str  # absolute, as dive prints it
    count: int  # how many layers have it
    wasted: int  # bytes, the copy that stays included


@dataclass(frozen=True, slots=True)
class Waste:
    efficiency: float  # 0..1
    wasted_bytes: int
    user_wasted_percent: float  # wasted bytes over the bytes of every layer but the first (0 when they are 0)
    inefficiencies: tuple[Inefficiency, ...]  # most wasted first


@dataclass(slots=True)
class _PathTotal:
    total: int = 0
    smallest: int = -1
    count: int = 0


def measure_waste(layers: Sequence[Sequence[LayerEntry]]) -> Waste:
    totals: dict[str, _PathTotal] = {}
    below = Tree()
    for entries in layers:
        for path, size in _leaves(entries, below):
            data = totals.setdefault(path, _PathTotal())
            data.total += size
            data.smallest = size if data.smallest < 0 else min(data.smallest, size)
            data.count += 1
        below.apply(entries)
    smallest = sum(data.smallest for data in totals.values())
    discovered = sum(data.total for data in totals.values())
    inefficient = sorted(
        (Inefficiency("/" + path, data.count, data.total) for path, data in totals.items() if data.count > 1),
        key=lambda item: (-item.wasted, item.path),
    )
    wasted = sum(item.wasted for item in inefficient)
    user_size = sum(entry.size for entries in layers[1:] for entry in entries)
    return Waste(
        efficiency=smallest / discovered if discovered else 1.0,
        wasted_bytes=wasted,
        user_wasted_percent=wasted / user_size if user_size else 0.0,
        inefficiencies=tuple(inefficient),
    )


def _leaves(entries: Sequence[LayerEntry], below: Tree) -> list[tuple[str, int]]:
    """(path, size) of each leaf of the layer's own tree, as dive's visitor sees them."""
    nodes: dict[str, int] = {}  # node path (whiteouts keep their ".wh." name) -> size
    inner: set[str] = set()
    whiteouts: dict[str, str] = {}  # node path -> the path it removes
    for entry in entries:
        if entry.kind == "opaque":
            # dive adds the directories leading to the marker, not the marker itself.
            nodes.setdefault(entry.path, 0)
            inner.update(parent_dirs(entry.path))
            continue
        if entry.kind == "whiteout":
            parent, _, name = entry.path.rpartition("/")
            node = f"{parent}/.wh.{name}" if parent else f".wh.{name}"
            whiteouts[node] = entry.path
        else:
            node = entry.path
        nodes[node] = entry.size
        inner.update(parent_dirs(node))
    for path in inner:
        nodes.setdefault(path, 0)  # implied directories: dive adds them with an empty payload
    leaves = []
    for node, size in nodes.items():
        if node in inner:
            continue
        removed = whiteouts.get(node)
        leaves.append((node, size) if removed is None else (removed, _hidden_size(below, removed)))
    return leaves


def _hidden_size(below: Tree, path: str) -> int:
    """What dive counts for a whiteout: the sizes under the directory it removes; 0 for a file."""
    node = below.node(path)
    if node is None or node.file is None or node.file.entry.kind != "dir":
        return 0  # dive: a file's whiteout weighs nothing; a missing one stops its visit (see above)
    return sum(file.entry.size for _, file in node.walk())
