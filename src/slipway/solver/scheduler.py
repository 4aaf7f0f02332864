"""Run a DAG of vertices on a thread pool: each vertex starts once all its inputs are done.

Independent branches (stages) therefore run at the same time; the first failure cancels everything not yet
started and is re-raised once the running steps have finished (each cleans up after itself).
"""

from __future__ import annotations

import logging
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

    def run(self, root: Vertex) -> dict[str, R]:
        order = walk(root)
        results: dict[str, R] = {}
        waiting = {vertex.digest: vertex for vertex in order}
        running: dict[Future[R], Vertex] = {}
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="slipway-step")
        failure: BaseException | None = None
        try:
            while waiting or running:
                if failure is None:
                    for digest, vertex in list(waiting.items()):
                        if all(parent.digest in results for parent in vertex.inputs):
                            del waiting[digest]
                            inputs = tuple(results[parent.digest] for parent in vertex.inputs)
                            running[pool.submit(self._run_vertex, vertex, inputs)] = vertex
                elif not running:
                    break
                if not running:
                    raise RuntimeError(
                        "build graph has a cycle or an unreachable input"
                    )  # a bug, not user error
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    vertex = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        failure = failure or error
                    else:
                        results[vertex.digest] = future.result()
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
