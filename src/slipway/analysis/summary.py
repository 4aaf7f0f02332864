"""What `slipway build` needs for the lines it prints after a build (the image's size, and a hint when its final
stage ships a compiler toolchain): the bytes of each toolchain in the image.

This runs after every build, so it must not read the layers' data: it walks the image's snapshot trees (the
store keeps one per layer; a build has just made or used them) for names and sizes only, descending from a
directory fd one O_NOFOLLOW component at a time, so no symlink a RUN planted is ever followed. A file is a
toolchain's by the one classification of analysis/_content.py; bytes are counted in every layer that holds
them (what the image ships, deletions in later layers included).
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator

from slipway.store import ImageRecord, SnapshotRecord, Store

__all__ = ["HINT_MINIMUM", "toolchain_bytes"]

HINT_MINIMUM = 10_000_000  # a toolchain smaller than this is not worth a hint
# Where toolchains live: only these trees are walked (classify decides what counts).
PROBED = ("usr", "root", "opt")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def toolchain_bytes(store: Store, image: ImageRecord, built: SnapshotRecord | None = None) -> dict[str, int]:
    """Bytes per toolchain (by its short name: "gcc", "the Go toolchain") in the image's layers, those of at
    least HINT_MINIMUM only. `built`: the snapshot the build made the image of (whose layers an export may
    have rewritten), read instead of unpacking the image."""
    with store.lease():
        top = built if built is not None else store.snapshots.unpack_image(image)
        chain = store.snapshots.chain(top.id) if top is not None else []
        totals = _toolchain_totals(file for snapshot in chain for file in _snapshot_files(store, snapshot))
    return {short: size for short, size in totals.items() if size >= HINT_MINIMUM}


def _toolchain_totals(files: Iterator[tuple[str, int]]) -> dict[str, int]:
    """Bytes per toolchain of `files` (path, size). The content table (a dozen regular expressions) is
    imported for a first file only: a small image has none where toolchains live."""
    first = next(files, None)
    if first is None:
        return {}
    from slipway.analysis._content import classify

    totals: dict[str, int] = {}
    for path, size in itertools.chain((first,), files):
        kind = classify(path)
        if kind is not None and kind.toolchain:
            totals[kind.short] = totals.get(kind.short, 0) + size
    return totals


def _snapshot_files(store: Store, snapshot: SnapshotRecord) -> Iterator[tuple[str, int]]:
    """The probed files of one snapshot: from its tree, or from its layer blob while it is not unpacked (an
    imported cache's step, which no hint should unpack)."""
    if snapshot.unpacked:
        yield from _walk_files(str(snapshot.path))
        return
    from slipway.image.layers import layer_entries

    layer = store.images.layer(snapshot.diff_id) if snapshot.diff_id else None
    if layer is None:
        return
    tops = tuple(top + "/" for top in PROBED)
    with (
        store.blobs.open(layer.descriptor.digest) as blob,
        layer_entries(blob, layer.descriptor.media_type) as entries,
    ):
        for entry, _ in entries:
            if entry.kind == "file" and entry.path.startswith(tops):
                yield entry.path, entry.size


def _walk_files(root: str) -> Iterator[tuple[str, int]]:
    try:
        root_fd = os.open(root, _DIR_FLAGS)
    except OSError:
        return
    try:
        for top in PROBED:
            yield from _walk_at(root_fd, top, top)
    finally:
        os.close(root_fd)


def _walk_at(parent_fd: int, name: str, path: str) -> Iterator[tuple[str, int]]:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return  # absent, or not a directory (a symlink is refused by O_NOFOLLOW)
    try:
        with os.scandir(fd) as entries:
            listed = [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]
        for child, info in listed:
            if stat.S_ISDIR(info.st_mode):
                yield from _walk_at(fd, child, f"{path}/{child}")
            elif stat.S_ISREG(info.st_mode):
                yield f"{path}/{child}", info.st_size
    finally:
        os.close(fd)
