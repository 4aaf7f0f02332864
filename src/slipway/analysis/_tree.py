"""An image's merged file tree, made from its layers' entries bottom first with OCI whiteout rules. Pure.

A trie, not a flat dict of paths: a whiteout of a directory removes its whole subtree in one step, so an image
that deletes many directories merges in time proportional to its entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from slipway.image.layers import LayerEntry

__all__ = ["Node", "Tree", "TreeFile", "parent_dirs"]

MAX_SYMLINKS = 40  # as Linux: a lookup that follows more gives up


@dataclass(frozen=True, slots=True)
class TreeFile:
    """A path of the merged tree: its entry and the index of the layer (bottom 0) that wrote it last."""

    entry: LayerEntry
    layer: int


@dataclass(slots=True)
class Node:
    file: TreeFile | None = None  # None for a directory no layer wrote an entry for (implied by a child)
    children: dict[str, Node] = field(default_factory=dict)

    def walk(self, prefix: str = "") -> Iterator[tuple[str, TreeFile]]:
        """Every path under this node with its file, parents before children, names sorted."""
        for name in sorted(self.children):
            child = self.children[name]
            path = f"{prefix}/{name}" if prefix else name
            if child.file is not None:
                yield path, child.file
            yield from child.walk(path)


class Tree:
    """The merged tree. `apply(layer_entries)` stacks one more layer on top."""

    def __init__(self) -> None:
        self.root = Node()
        self.layers = 0

    @classmethod
    def of(cls, layers: Iterable[Iterable[LayerEntry]]) -> Tree:
        tree = cls()
        for entries in layers:
            tree.apply(entries)
        return tree

    def apply(self, entries: Iterable[LayerEntry]) -> None:
        """Whiteouts and opaque markers hide what the layers below wrote (not this layer's own entries,
        whatever their order in the tar), then the entries are added."""
        added = []
        for entry in entries:
            if entry.kind == "whiteout":
                self.remove(entry.path)
            elif entry.kind == "opaque":
                node = self.node(entry.path)
                if node is not None:
                    node.children.clear()
            else:
                added.append(entry)
        for entry in added:
            self._add(TreeFile(entry, self.layers))
        self.layers += 1

    def _add(self, file: TreeFile) -> None:
        node = self.root
        for name in file.entry.path.split("/"):
            child = node.children.get(name)
            if child is None:
                child = node.children[name] = Node()
            node = child
        if file.entry.kind != "dir":
            node.children.clear()  # a file replacing a directory hides what was below it
        node.file = file

    def remove(self, path: str) -> Node | None:
        """Detach `path` with its subtree; the node removed, or None if absent."""
        parent_path, _, name = path.rpartition("/")
        parent = self.node(parent_path) if parent_path else self.root
        if parent is None:
            return None
        return parent.children.pop(name, None)

    def node(self, path: str) -> Node | None:
        """The node at `path` as written (no symlinks followed), or None."""
        node = self.root
        for name in path.split("/") if path else ():
            found = node.children.get(name)
            if found is None:
                return None
            node = found
        return node

    def get(self, path: str) -> TreeFile | None:
        node = self.node(path)
        return node.file if node is not None else None

    def files(self) -> Iterator[tuple[str, TreeFile]]:
        return self.root.walk()

    def resolve(self, path: str) -> str | None:
        """`path` (absolute or relative to /) with every symlink followed inside the tree, as the kernel would
        inside the container; None when it does not exist, or the links loop."""
        pending = [part for part in path.split("/") if part not in ("", ".")]
        pending.reverse()
        resolved: list[str] = []
        links = 0
        while pending:
            part = pending.pop()
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            file = self.get("/".join([*resolved, part]))
            if file is None and self.node("/".join([*resolved, part])) is None:
                return None
            if file is not None and file.entry.kind == "symlink":
                links += 1
                if links > MAX_SYMLINKS:
                    return None
                target = file.entry.link
                if target.startswith("/"):
                    resolved = []
                pending.extend(reversed([item for item in target.split("/") if item not in ("", ".")]))
                continue
            resolved.append(part)
        return "/".join(resolved)


def parent_dirs(path: str) -> Iterator[str]:
    """The proper ancestors of a relative path, deepest first ("a/b/c" -> "a/b", "a")."""
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path
