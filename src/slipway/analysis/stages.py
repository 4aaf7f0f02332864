"""The stage graph of a Dockerfile for the pictures: its stages (those the target needs), the edges between them
(`FROM <stage>`, `COPY --from`, `RUN --mount=from=`), and each stage's size where a build of it is in the store
(built through the public build API; the cache answers for stages already built)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slipway.graph.ops import BuildGraph, Copy, Exec, Vertex
from slipway.store import Store

__all__ = ["StageGraph", "StageNode", "edges_of", "stage_graph"]


@dataclass(frozen=True, slots=True)
class StageNode:
    index: int
    name: str  # its AS name, or its index
    size: int | None  # bytes of its image, when it could be built as a target


@dataclass(frozen=True, slots=True)
class StageGraph:
    stages: tuple[StageNode, ...]
    edges: tuple[tuple[int, int, str], ...]  # (from stage, to stage, "FROM" / "COPY --from" / "RUN --mount")
    target: int


def edges_of(graph: BuildGraph) -> tuple[tuple[int, int, str], ...]:
    """Which stage reads which: a stage's vertices reaching another stage's final file system."""
    roots: dict[str, int] = {stage.root.digest: stage.index for stage in graph.stages}
    edges: set[tuple[int, int, str]] = set()
    for stage in graph.stages:
        for vertex in _own_vertices(stage.root, roots, stage.index):
            for position, source in enumerate(vertex.inputs):
                other = roots.get(source.digest)
                if other is None or other == stage.index:
                    continue
                edges.add((other, stage.index, _edge_kind(vertex, position)))
    return tuple(sorted(edges))


def _own_vertices(root: Vertex, roots: dict[str, int], index: int) -> list[Vertex]:
    """The stage's vertices, not crossing into another stage's."""
    own: list[Vertex] = []
    pending = [root]
    seen: set[str] = set()
    while pending:
        vertex = pending.pop()
        if vertex.digest in seen:
            continue
        seen.add(vertex.digest)
        own.append(vertex)
        pending += [item for item in vertex.inputs if roots.get(item.digest, index) == index]
    return own


def _edge_kind(vertex: Vertex, position: int) -> str:
    if isinstance(vertex.op, Copy) and position == 1:
        return "COPY --from"
    if isinstance(vertex.op, Exec) and position > 0:
        return "RUN --mount"
    return "FROM"


def stage_graph(store: Store, dockerfile: Path, context: Path, target_size: int | None = None) -> StageGraph:
    """The stages of `dockerfile` the last stage needs; `target_size`: the size of the last stage's image."""
    from slipway.pipeline import BuildRequest, plan

    request = BuildRequest(context=context, dockerfile=dockerfile, pull="never")
    graph, _ = plan(request, store)
    nodes = tuple(
        StageNode(stage.index, stage.name or str(stage.index), target_size if stage is graph.target else None)
        for stage in graph.stages
    )
    return StageGraph(nodes, edges_of(graph), graph.target.index)
