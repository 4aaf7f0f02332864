"""Run a DAG of vertices on a thread pool: each vertex starts once all its inputs are done.

Independent branches (stages) therefore run at the same time; the first failure cancels everything not yet
started and is re-raised once the running steps have finished (each cleans up after itself).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

from slipway.graph.ops import Vertex, walk

log = logging.getLogger(__name__)

R = TypeVar("R")


class Scheduler(Generic[R]):
    def __init__(
        self,
        run_vertex: Callable[[Vertex, tuple[R, ...]], R],
        *,
        workers: int,
        on_interrupt: Callable[[], None] | None = None,
    ) -> None:
        self._run_vertex = run_vertex
        self._workers = max(1, workers)
        self._on_interrupt = on_interrupt

    def run(self, root: Vertex, *more: Vertex) -> dict[str, R]:
        order = walk(root, *more)
        results: dict[str, R] = {}
        # Each vertex counts the inputs it still waits for; a finished one tells only its readers, so a graph
        # of many steps costs time in proportion to its edges, not steps times steps.
        missing = {vertex.digest: len({parent.digest for parent in vertex.inputs}) for vertex in order}
        readers: dict[str, list[Vertex]] = {}
        for vertex in order:
            for digest in {parent.digest for parent in vertex.inputs}:
                readers.setdefault(digest, []).append(vertex)
        ready = deque(vertex for vertex in order if missing[vertex.digest] == 0)
        running: dict[Future[R], Vertex] = {}
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="slipway-step")
        failure: BaseException | None = None
        try:
            while len(results) < len(order):
                # No more at once than there are workers: waiting on a future costs a look at each one running.
                while ready and failure is None and len(running) < self._workers:
                    vertex = ready.popleft()
                    inputs = tuple(results[parent.digest] for parent in vertex.inputs)
                    running[pool.submit(self._run_vertex, vertex, inputs)] = vertex
                if not running:
                    if failure is not None:
                        break
                    raise RuntimeError("build graph has a cycle or an unreachable input")  # a bug
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    vertex = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        failure = failure or error
                        continue
                    results[vertex.digest] = future.result()
                    for reader in readers.get(vertex.digest, ()):
                        missing[reader.digest] -= 1
                        if missing[reader.digest] == 0:
                            ready.append(reader)
        except BaseException as interrupt:
            # Ctrl-C while waiting: the running steps see it through their own cancellation hooks.
            failure = failure or interrupt
            for future in running:
                future.cancel()
            if self._on_interrupt is not None:
                self._on_interrupt()  # stop running containers so the pool can drain
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if failure is not None:
            raise failure
        return results
