"""A build's `--cache-from` and `--cache-to`: each cache read or written as a step of the build, around
export/cache.py's readers and writers (which load only for a build that asks for them)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from slipway.errors import ArchiveError, RegistryError, SlipwayError
from slipway.export.image import ExportOptions
from slipway.export.specs import CacheSpec
from slipway.graph.ops import Vertex, walk
from slipway.progress.events import BuildMessage, EventSink, step
from slipway.solver.results import CACHED_OPS, Result
from slipway.store import SnapshotRecord, Store

if TYPE_CHECKING:
    from slipway.export.cache import CacheImport
    from slipway.registry.options import RegistryOptions

__all__ = ["export_caches", "import_caches", "inline_entries"]


def import_caches(
    store: Store,
    specs: tuple[CacheSpec, ...],
    registry: RegistryOptions | None,
    events: EventSink,
    resources: ExitStack,
) -> CacheImport:
    """Every --cache-from's records, held open by `resources`; one that cannot be read is a warning, as in
    BuildKit, not a failure."""
    from slipway.export.cache import CacheImport  # only now: it imports the archive readers and more

    imported = resources.enter_context(CacheImport(store, registry))
    for index, spec in enumerate(specs):
        unread: SlipwayError | None = None
        name = f"importing cache manifest from {spec.describe()}"
        with step(events, f"cache-import-{index}", name) as importing:
            try:
                importing.log(f"{imported.add(spec)} cache records")
            except (RegistryError, ArchiveError) as err:
                unread = err
        if unread is not None:
            warning = f"WARNING: --cache-from {spec.text}: {unread}; building without it"
            events.emit(BuildMessage(text=warning, at=time.time()))
    return imported


def export_caches(
    store: Store,
    specs: tuple[CacheSpec, ...],
    roots: Sequence[Vertex],
    results: dict[str, Result],
    materialize: Callable[[Result], Result],
    options: ExportOptions,
    registry: RegistryOptions | None,
    events: EventSink,
) -> None:
    """Each --cache-to's records of the build that made `results` (its targets `roots`: one per platform), as
    a step."""
    for index, spec in enumerate(specs):
        from slipway.export.cache import export_cache  # only for a build that asks for it: the writers

        if spec.type == "inline":
            continue  # written with the image: inline_entries()

        entries = _cache_entries(roots, results, spec, materialize)
        target = "registry" if spec.type == "registry" else "client directory"
        with step(events, f"cache-export-{index}", f"exporting cache to {target}") as exporting:
            distributed = options.for_distribution()
            export_cache(store, entries, spec, distributed, registry=registry, on_event=exporting.log)


def inline_entries(
    specs: tuple[CacheSpec, ...],
    roots: Sequence[Vertex],
    results: dict[str, Result],
    materialize: Callable[[Result], Result],
) -> tuple[tuple[str, int], ...]:
    """For --cache-to type=inline: (cache key, snapshot id) of each final image's steps, which the image
    exporter writes into the config of the image whose layers they are; () when no inline cache is asked."""
    inline = [spec for spec in specs if spec.type == "inline"]
    if not inline:
        return ()
    return tuple(
        (key, snapshot.id) for key, snapshot in _cache_entries(roots, results, inline[0], materialize)
    )


def _cache_entries(
    roots: Sequence[Vertex],
    results: dict[str, Result],
    spec: CacheSpec,
    materialize: Callable[[Result], Result],
) -> list[tuple[str, SnapshotRecord]]:
    """mode=min: the steps whose layers make the final images (the chain of inputs[0] from each target);
    mode=max: every step the build ran, in every stage, those feeding COPY --from and RUN --mount too. A step
    two platforms share (a `FROM --platform=$BUILDPLATFORM` stage) is one record."""
    vertices: dict[str, Vertex] = {}
    for root in roots:
        if spec.mode == "max":
            vertices.update(
                (vertex.digest, vertex) for vertex in walk(root) if isinstance(vertex.op, CACHED_OPS)
            )
            continue
        vertex = root
        while isinstance(vertex.op, CACHED_OPS):
            vertices.setdefault(vertex.digest, vertex)
            vertex = vertex.inputs[0]
    entries = []
    for vertex in vertices.values():
        result = materialize(results[vertex.digest])
        if result.snapshot is not None:
            entries.append((result.cache_key, result.snapshot))
    return entries
