"""`slipway diff A B`: the files added, removed and changed from image A to image B (type, size, mode, owner,
link target, content), summarised by directory, and the packages that differ. `diff` reads the store; the
comparison (`compare_images`) is pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from slipway.analysis._packages import Package, is_package_database, packages
from slipway.analysis._read import LayerFiles, read_layers
from slipway.analysis._tree import Tree, TreeFile
from slipway.image.layers import LayerEntry
from slipway.store import Store

__all__ = ["DirectorySummary", "FileChange", "ImageDiff", "PackageChange", "compare_images", "diff"]

SUMMARY_DEPTH = 2  # changes are summed per directory this many levels deep (/usr/local, /var/lib)
Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str  # absolute
    change: Change
    kind: str  # "file", "dir", "symlink", ... (B's for added and changed, A's for removed)
    size_before: int  # 0 when added
    size_after: int  # 0 when removed
    differences: tuple[str, ...] = ()  # for "changed": of "type", "size", "mode", "owner", "link", "content"


@dataclass(frozen=True, slots=True)
class DirectorySummary:
    path: str
    added: int
    removed: int
    changed: int
    bytes_added: int  # bytes of added files plus growth of changed ones
    bytes_removed: int  # bytes of removed files plus shrinkage of changed ones


@dataclass(frozen=True, slots=True)
class PackageChange:
    ecosystem: str
    name: str
    before: str | None  # version in A; None when B added it
    after: str | None  # version in B; None when B removed it


@dataclass(frozen=True, slots=True)
class ImageDiff:
    before: str
    after: str
    before_size: int
    after_size: int
    files: tuple[FileChange, ...]  # by path
    directories: tuple[DirectorySummary, ...]  # most bytes involved first
    packages: tuple[PackageChange, ...]


@dataclass(frozen=True, slots=True)
class ImageContents:
    """What the comparison needs of one image: its merged tree and, per final regular file, its content digest."""

    name: str
    tree: Tree
    digests: Mapping[str, str]
    packages: tuple[Package, ...]


def diff(store: Store, before: str, after: str) -> ImageDiff:
    """Compare images `before` and `after` of the store (ImageNotFound names the one missing)."""
    first, second = store.images.resolve(before), store.images.resolve(after)
    return compare_images(
        contents(before, read_layers(store, first, hash_content=True, keep=_keeps, scan_go=True)),
        contents(after, read_layers(store, second, hash_content=True, keep=_keeps, scan_go=True)),
    )


def _keeps(entry: LayerEntry) -> bool:
    return is_package_database(entry.path)


def contents(name: str, layers: tuple[LayerFiles, ...]) -> ImageContents:
    tree = Tree.of(layer.entries for layer in layers)
    digests = {}
    databases = {}
    go_info = {}
    for path, file in tree.files():
        layer = layers[file.layer]
        source = file.entry.link if file.entry.kind == "hardlink" else path
        if source in layer.digests:
            digests[path] = layer.digests[source]
        if source in layer.kept:
            databases[path] = layer.kept[source]
        if source in layer.go_info:
            go_info[path] = layer.go_info[source]
    found = packages((path for path, _ in tree.files()), databases, go_info)
    return ImageContents(name, tree, digests, found)


def compare_images(before: ImageContents, after: ImageContents) -> ImageDiff:
    changes = tuple(_file_changes(before, after))
    return ImageDiff(
        before=before.name,
        after=after.name,
        before_size=_size(before.tree),
        after_size=_size(after.tree),
        files=changes,
        directories=_summaries(changes),
        packages=_package_changes(before.packages, after.packages),
    )


def _size(tree: Tree) -> int:
    return sum(file.entry.size for _, file in tree.files())


def _file_changes(before: ImageContents, after: ImageContents) -> Iterator[FileChange]:
    old = dict(before.tree.files())
    new = dict(after.tree.files())
    for path in sorted(old.keys() | new.keys()):
        was, now = old.get(path), new.get(path)
        if was is None and now is not None:
            yield FileChange("/" + path, "added", now.entry.kind, 0, now.entry.size)
        elif now is None and was is not None:
            yield FileChange("/" + path, "removed", was.entry.kind, was.entry.size, 0)
        elif was is not None and now is not None:
            differences = _differences(path, was, now, before.digests, after.digests)
            if differences:
                yield FileChange(
                    "/" + path, "changed", now.entry.kind, was.entry.size, now.entry.size, differences
                )


def _differences(
    path: str, was: TreeFile, now: TreeFile, old_digests: Mapping[str, str], new_digests: Mapping[str, str]
) -> tuple[str, ...]:
    a, b = was.entry, now.entry
    if a.kind != b.kind:
        return ("type",)
    found = []
    if a.size != b.size:
        found.append("size")
    if a.mode != b.mode:
        found.append("mode")
    if (a.uid, a.gid) != (b.uid, b.gid):
        found.append("owner")
    if a.link != b.link and a.kind == "symlink":
        found.append("link")
    if old_digests.get(path) != new_digests.get(path):
        found.append("content")
    return tuple(found)


def _summaries(changes: tuple[FileChange, ...]) -> tuple[DirectorySummary, ...]:
    totals: dict[str, list[int]] = {}
    for change in changes:
        parts = change.path.strip("/").split("/")[:-1][:SUMMARY_DEPTH]
        total = totals.setdefault("/" + "/".join(parts), [0, 0, 0, 0, 0])
        total[("added", "removed", "changed").index(change.change)] += 1
        growth = change.size_after - change.size_before
        total[3] += max(growth, 0)
        total[4] += max(-growth, 0)
    summaries = [DirectorySummary(path, *counts) for path, counts in totals.items()]
    return tuple(sorted(summaries, key=lambda item: (-(item.bytes_added + item.bytes_removed), item.path)))


def _package_changes(before: tuple[Package, ...], after: tuple[Package, ...]) -> tuple[PackageChange, ...]:
    old = {(package.ecosystem, package.name): package.version for package in before}
    new = {(package.ecosystem, package.name): package.version for package in after}
    return tuple(
        PackageChange(ecosystem, name, old.get((ecosystem, name)), new.get((ecosystem, name)))
        for ecosystem, name in sorted(old.keys() | new.keys())
        if old.get((ecosystem, name)) != new.get((ecosystem, name))
    )
