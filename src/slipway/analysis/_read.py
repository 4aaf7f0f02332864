"""Reading an image's layers from the store as streams: their entries, and the content of chosen files.

Memory grows with the number of entries, never with the bytes: file data is hashed or scanned as it passes,
and only files asked for by name are kept (each with a size cap) or written out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from slipway.analysis._tree import Tree
from slipway.errors import ArchiveError
from slipway.image.layers import LayerEntry, layer_entries
from slipway.store import ImageRecord, Store

__all__ = ["LayerFiles", "extract_files", "read_layers"]

CHUNK = 1 << 20
KEEP_CAP = 64 << 20  # a kept file (a package database, a passwd) bigger than this is left out
GO_BUILDINFO_MAGIC = b"\xff Go buildinf:"
_GO_HEADER_CHECKED = 16
GO_BUILDINFO_WINDOW = 1 << 20  # bytes kept from the magic on: the build info (with the module list) fits


@dataclass(frozen=True, slots=True)
class LayerFiles:
    """One layer's entries, in tar order, and what was gathered from its files' data on the way."""

    entries: tuple[LayerEntry, ...]
    digests: Mapping[str, str] = field(default_factory=dict)  # path -> sha256 hex of a regular file's data
    kept: Mapping[str, bytes] = field(default_factory=dict)  # path -> data of the files `keep` chose
    go_info: Mapping[str, bytes] = field(default_factory=dict)  # path -> bytes from a Go build info magic on


def read_layers(
    store: Store,
    image: ImageRecord,
    *,
    hash_content: bool = False,
    keep: Callable[[LayerEntry], bool] | None = None,
    scan_go: bool = False,
) -> tuple[LayerFiles, ...]:
    """Every layer of `image`, bottom first, each read once as a stream. `hash_content`: sha256 of every
    regular file; `keep`: the data of the files it accepts (up to KEEP_CAP); `scan_go`: the Go build info of
    executables."""
    layers = []
    for descriptor in image.manifest.layers:
        with _opened(store, descriptor.digest, descriptor.size, descriptor.media_type) as entries:
            layers.append(_gather(entries, hash_content, keep, scan_go))
    return tuple(layers)


def _gather(
    entries: Iterator[tuple[LayerEntry, BinaryIO | None]],
    hash_content: bool,
    keep: Callable[[LayerEntry], bool] | None,
    scan_go: bool,
) -> LayerFiles:
    found: list[LayerEntry] = []
    digests: dict[str, str] = {}
    kept: dict[str, bytes] = {}
    go_info: dict[str, bytes] = {}
    for entry, data in entries:
        found.append(entry)
        if data is None:
            continue
        wants_data = keep is not None and entry.size <= KEEP_CAP and keep(entry)
        wants_go = scan_go and entry.mode & 0o111 and entry.size > len(GO_BUILDINFO_MAGIC)
        if not (hash_content or wants_data or wants_go):
            continue
        scan = _Scan(hash_content, wants_data, bool(wants_go))
        while chunk := data.read(CHUNK):
            scan.feed(chunk)
        if hash_content:
            digests[entry.path] = scan.hash.hexdigest()
        if scan.data is not None:
            kept[entry.path] = bytes(scan.data)
        if scan.go_info:
            go_info[entry.path] = bytes(scan.go_info)
    return LayerFiles(tuple(found), digests, kept, go_info)


class _Scan:
    """What one pass over a file's data gathers: its hash, its bytes, the bytes after a Go build info magic."""

    def __init__(self, hashing: bool, keeping: bool, scanning_go: bool) -> None:
        self.hash = hashlib.sha256()
        self._hashing = hashing
        self.data = bytearray() if keeping else None
        self._scanning_go = scanning_go
        self._tail = b""  # the end of the previous chunk: a magic may straddle two
        self.go_info = bytearray()
        self._first = True

    def feed(self, chunk: bytes) -> None:
        if self._hashing:
            self.hash.update(chunk)
        if self.data is not None:
            self.data += chunk
        if self._scanning_go:
            self._feed_go(chunk)
        self._first = False

    def _feed_go(self, chunk: bytes) -> None:
        if self._first and not chunk.startswith(b"\x7fELF"):
            self._scanning_go = False  # only ELF executables carry Go build info here
            return
        if self.go_info:
            self.go_info += chunk[: GO_BUILDINFO_WINDOW - len(self.go_info)]
            if len(self.go_info) >= GO_BUILDINFO_WINDOW:
                self._scanning_go = False
            return
        window = self._tail + chunk
        start = 0
        while (at := window.find(GO_BUILDINFO_MAGIC, start)) >= 0:
            if len(window) - at < _GO_HEADER_CHECKED:
                break  # decided with the next chunk
            # The real header is followed by the pointer size and flags; the linker also holds the magic as
            # a plain string constant, which is not.
            if window[at + 14] in (4, 8) and window[at + 15] <= 3:
                self.go_info += window[at : at + GO_BUILDINFO_WINDOW]
                return
            start = at + 1
        self._tail = window[-_GO_HEADER_CHECKED:]


def extract_files(
    store: Store, image: ImageRecord, tree: Tree, paths: Sequence[str], dest: Path
) -> dict[str, Path]:
    """Write the final content of `paths` (regular files or hard links of the merged tree; others are left
    out) to fresh files under `dest` named by this function, reading only the layers that hold them."""
    wanted: dict[int, dict[str, list[str]]] = {}  # layer -> path in that layer's tar -> paths asked for
    for path in dict.fromkeys(paths):
        file = tree.get(path)
        if file is None or file.entry.kind not in ("file", "hardlink"):
            continue
        source = file.entry.link if file.entry.kind == "hardlink" else path
        wanted.setdefault(file.layer, {}).setdefault(source, []).append(path)
    written: dict[str, Path] = {}
    for layer, sources in sorted(wanted.items()):
        descriptor = image.manifest.layers[layer]
        with _opened(store, descriptor.digest, descriptor.size, descriptor.media_type) as entries:
            for entry, data in entries:
                targets = sources.pop(entry.path, None) if data is not None else None
                if targets is None:
                    continue
                out = dest / f"file-{len(written)}"
                with out.open("wb") as handle:
                    while chunk := data.read(CHUNK):  # type: ignore[union-attr]
                        handle.write(chunk)
                for target in targets:
                    written[target] = out
                if not sources:
                    break  # the rest of the layer holds nothing asked for
    return written


@contextmanager
def _opened(
    store: Store, digest: str, size: int, media_type: str
) -> Iterator[Iterator[tuple[LayerEntry, BinaryIO | None]]]:
    with store.blobs.stream(digest, size) as blob, layer_entries(blob, media_type) as entries:  # type: ignore[arg-type]
        try:
            yield entries
        except ArchiveError as err:
            raise ArchiveError(f"layer {digest}: {err}") from err
