"""What a build with --cache-from can leave undone: BuildKit's lazy cache matching.

A step's cache key is known before it runs (its definition, its inputs' keys, the context files it reads), so
the whole graph's keys can be worked out and looked up before anything runs. A step answered from the cache
does not need its inputs: a build stage used only by a COPY --from that hits (a mode=min cache holds the
final image's steps alone) is never run, nor its FROM unpacked, and shows as CACHED, as in BuildKit. What was
left undone is still done, once, if something asks for it after all (an export of every step, mode=max).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from typing import Generic, TypeVar

from slipway.graph.ops import Vertex
from slipway.solver.results import CACHED_OPS, Result

__all__ = ["OnDemand", "plan", "unneeded"]

R = TypeVar("R")
# What solving a vertex will yield as far as its cache key goes (None: not known before it runs, as a
# download's), and whether the cache holds its result; given the same of its inputs.
Planner = Callable[[Vertex, tuple[Result | None, ...]], tuple[Result | None, bool]]


def plan(
    order: Sequence[Vertex], roots: Sequence[Vertex], planned: Planner
) -> tuple[dict[str, str], frozenset[str]]:
    """Each step's cache key where it is known before anything runs (by vertex digest), and the vertices no
    root needs once the cache's hits are counted."""
    results: dict[str, Result | None] = {}
    hits: set[str] = set()
    keys: dict[str, str] = {}
    for vertex in order:
        result, hit = planned(vertex, tuple(results[parent.digest] for parent in vertex.inputs))
        results[vertex.digest] = result
        if hit:
            hits.add(vertex.digest)
        if result is not None and isinstance(vertex.op, CACHED_OPS):
            keys[vertex.digest] = result.cache_key
    return keys, unneeded(order, roots, hits)


def unneeded(order: Sequence[Vertex], roots: Sequence[Vertex], hits: Collection[str]) -> frozenset[str]:
    """The vertices (digests) of `order` (inputs before their readers) that no root needs: every way from a
    root to them passes a vertex in `hits`, whose result the cache holds."""
    needed = {root.digest for root in roots}
    for vertex in reversed(order):  # readers before their inputs
        if vertex.digest in needed and vertex.digest not in hits:
            needed.update(parent.digest for parent in vertex.inputs)
    return frozenset(vertex.digest for vertex in order if vertex.digest not in needed)


class OnDemand(Generic[R]):
    """Work put aside by key, done at most once, when first asked for (from any thread; while one thread does
    it, others asking for the same key wait for its result)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._work: dict[str, tuple[threading.Lock, Callable[[], R]]] = {}
        self._done: dict[str, R] = {}

    def put(self, key: str, work: Callable[[], R]) -> None:
        with self._lock:
            self._work.setdefault(key, (threading.Lock(), work))

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._work

    def get(self, key: str) -> R:
        """The result of the work put aside as `key`, done now if it was not yet. KeyError if none was."""
        with self._lock:
            guard, work = self._work[key]
        with guard:
            if key not in self._done:
                self._done[key] = work()
            return self._done[key]
