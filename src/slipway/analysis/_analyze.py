"""`slipway analyze`: where an image's bytes are. Per layer what it added, changed and removed; the wasted bytes
and efficiency score by dive's rules; the largest directories and files of the merged tree; what kind of
content dominates. `analyze` reads the store; `analyze_layers` is the pure part."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from slipway.analysis._content import classify
from slipway.analysis._read import read_layers
from slipway.analysis._tree import Tree, parent_dirs
from slipway.analysis._waste import Inefficiency, measure_waste
from slipway.image.layers import LayerEntry
from slipway.image.oci import History
from slipway.store import Store

__all__ = ["ContentShare", "ImageAnalysis", "LayerSummary", "PathSize", "analyze", "analyze_layers"]

TOP = 10
MAX_DIRECTORY_DEPTH = 3  # the directories listed (and drawn) go this deep
MAX_DIRECTORIES = 400


@dataclass(frozen=True, slots=True)
class LayerSummary:
    index: int  # bottom 0
    instruction: str  # the history's created_by ("" when the image has no history for it)
    size: int  # the bytes of its regular files (as `slipway history` counts them)
    added_files: int
    added_bytes: int
    modified_files: int  # paths a lower layer had, written again
    modified_bytes: int
    removed_files: int  # paths of lower layers it deletes (whiteouts), files inside removed directories too
    removed_bytes: int
    wasted_bytes: int  # its bytes a later layer overwrites or deletes: stored, never seen in the image


@dataclass(frozen=True, slots=True)
class PathSize:
    path: str  # absolute
    size: int


@dataclass(frozen=True, slots=True)
class ContentShare:
    kind: str  # "Go toolchain", "apt lists and caches", ...
    short: str  # the kind in a sentence: "the Go toolchain", "gcc"
    bytes: int
    files: int
    toolchain: bool  # needed only to build: a candidate for a build stage


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    image: str  # as named by the caller
    image_id: str
    size: int  # the sum of the layers' sizes
    layers: tuple[LayerSummary, ...]
    efficiency: float  # dive's score, 0..1
    wasted_bytes: int  # dive's wasted bytes
    user_wasted_percent: float  # dive's: wasted bytes over the bytes of every layer but the first, 0..
    inefficiencies: tuple[Inefficiency, ...]  # most wasted first
    largest_directories: tuple[PathSize, ...]
    largest_files: tuple[PathSize, ...]
    content: tuple[ContentShare, ...]  # largest first
    directories: tuple[PathSize, ...]  # up to MAX_DIRECTORY_DEPTH deep, for the treemap

    def toolchains(self, minimum: int = 0) -> tuple[ContentShare, ...]:
        return tuple(share for share in self.content if share.toolchain and share.bytes > minimum)


def analyze(store: Store, ref: str) -> ImageAnalysis:
    """Analyse image `ref` of the store (ImageNotFound if absent), reading each layer once as a stream."""
    image = store.images.resolve(ref)
    layers = read_layers(store, image)
    return analyze_layers(ref, image.id, [layer.entries for layer in layers], image.config.history)


def analyze_layers(
    name: str, image_id: str, layers: Sequence[Sequence[LayerEntry]], history: Sequence[History] = ()
) -> ImageAnalysis:
    waste = measure_waste(layers)
    tree = Tree()
    summaries = []
    instructions = _layer_instructions(history, len(layers))
    for index, entries in enumerate(layers):
        summaries.append(_summarize_layer(index, instructions[index], entries, tree))
        tree.apply(entries)
    summaries = _with_wasted_bytes(summaries, layers, tree)
    files = [(path, file.entry.size) for path, file in tree.files() if file.entry.kind == "file"]
    directory_sizes = _directory_sizes(files)
    return ImageAnalysis(
        image=name,
        image_id=image_id,
        size=sum(summary.size for summary in summaries),
        layers=tuple(summaries),
        efficiency=waste.efficiency,
        wasted_bytes=waste.wasted_bytes,
        user_wasted_percent=waste.user_wasted_percent,
        inefficiencies=waste.inefficiencies,
        largest_directories=_largest(_telling_directories(directory_sizes)),
        largest_files=_largest(files),
        content=_content_shares(files),
        directories=tuple(
            PathSize("/" + path, size)
            for path, size in sorted(directory_sizes.items(), key=lambda item: -item[1])[:MAX_DIRECTORIES]
            if path.count("/") < MAX_DIRECTORY_DEPTH
        ),
    )


def _layer_instructions(history: Sequence[History], count: int) -> list[str]:
    """created_by of the history entry that made each layer: non-empty entries pair with layers in order."""
    made = [entry.created_by or "" for entry in history if not entry.empty_layer]
    return (made + [""] * count)[:count]


def _summarize_layer(
    index: int, instruction: str, entries: Sequence[LayerEntry], below: Tree
) -> LayerSummary:
    counts = {"added": [0, 0], "modified": [0, 0], "removed": [0, 0]}
    for entry in entries:
        if entry.kind in ("whiteout", "opaque"):
            node = below.node(entry.path)
            if node is None:
                continue
            hidden = list(node.walk())
            if entry.kind == "whiteout" and node.file is not None:
                hidden.append((entry.path, node.file))
            for _, file in hidden:
                if file.entry.kind != "dir":
                    counts["removed"][0] += 1
                    counts["removed"][1] += file.entry.size
        elif entry.kind != "dir":
            change = "modified" if below.get(entry.path) is not None else "added"
            counts[change][0] += 1
            counts[change][1] += entry.size
    return LayerSummary(
        index=index,
        instruction=instruction,
        size=sum(entry.size for entry in entries),
        added_files=counts["added"][0],
        added_bytes=counts["added"][1],
        modified_files=counts["modified"][0],
        modified_bytes=counts["modified"][1],
        removed_files=counts["removed"][0],
        removed_bytes=counts["removed"][1],
        wasted_bytes=0,
    )


def _with_wasted_bytes(
    summaries: list[LayerSummary], layers: Sequence[Sequence[LayerEntry]], final: Tree
) -> list[LayerSummary]:
    result = []
    for summary, entries in zip(summaries, layers, strict=True):
        wasted = 0
        for entry in entries:
            if entry.kind == "file":
                kept = final.get(entry.path)
                if kept is None or kept.layer != summary.index:
                    wasted += entry.size
        result.append(replace(summary, wasted_bytes=wasted))
    return result


def _directory_sizes(files: Sequence[tuple[str, int]]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path, size in files:
        for directory in parent_dirs(path):
            sizes[directory] = sizes.get(directory, 0) + size
    return sizes


def _telling_directories(sizes: dict[str, int]) -> Iterable[tuple[str, int]]:
    """Directories whose bytes are not all in one subdirectory: /usr/local/go, not also /usr and /usr/local."""
    explained = {
        path.rpartition("/")[0]
        for path, size in sizes.items()
        if "/" in path and sizes[path.rpartition("/")[0]] == size
    }
    return (
        (path, size)
        for path, size in sizes.items()
        if path not in explained and path.count("/") <= MAX_DIRECTORY_DEPTH
    )


def _largest(items: Iterable[tuple[str, int]]) -> tuple[PathSize, ...]:
    ranked = sorted(items, key=lambda item: (-item[1], item[0]))
    return tuple(PathSize("/" + path, size) for path, size in ranked[:TOP] if size > 0)


def _content_shares(files: Sequence[tuple[str, int]]) -> tuple[ContentShare, ...]:
    totals: dict[str, list[int]] = {}
    kinds = {}
    for path, size in files:
        kind = classify(path)
        if kind is None:
            continue
        kinds[kind.name] = kind
        total = totals.setdefault(kind.name, [0, 0])
        total[0] += size
        total[1] += 1
    shares = [
        ContentShare(name, kinds[name].short, size, count, kinds[name].toolchain)
        for name, (size, count) in totals.items()
    ]
    return tuple(sorted(shares, key=lambda share: -share.bytes))
