"""solver/lazy.py: with the cache's hits known before the build, a stage only a hit reads is left undone, and
work left undone is done once when something asks for it after all."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from slipway.graph.ops import ContextSource, Copy, Exec, HttpSource, ImageSource, Mkdir, Vertex, walk
from slipway.image.oci import Digest
from slipway.solver.lazy import OnDemand, plan, unneeded
from slipway.solver.results import Result

BASE = Vertex(ImageSource(ref="docker.io/library/golang:1.24", manifest_digest=Digest("sha256:" + "a" * 64)))
SCRATCH_BASE = Vertex(
    ImageSource(ref="docker.io/library/busybox:1", manifest_digest=Digest("sha256:" + "b" * 64))
)
CONTEXT = Vertex(ContextSource())
WORKDIR = Vertex(Mkdir(path="/src"), (BASE,))
SOURCES = Vertex(Copy(sources=("main.go",), dest="."), (WORKDIR, CONTEXT))
COMPILE = Vertex(Exec(args=("go", "build", "-o", "/bin/hello"), env=(), cwd="/src", user=""), (SOURCES,))
FINAL = Vertex(Copy(sources=("/bin/hello",), dest="/bin/hello"), (SCRATCH_BASE, COMPILE))
BUILD_STAGE = {BASE.digest, WORKDIR.digest, SOURCES.digest, COMPILE.digest}


def test_a_stage_read_only_by_a_hit_is_not_needed() -> None:
    order = walk(FINAL)
    assert unneeded(order, [FINAL], {FINAL.digest}) == BUILD_STAGE | {SCRATCH_BASE.digest, CONTEXT.digest}


def test_a_miss_needs_all_its_inputs() -> None:
    order = walk(FINAL)
    assert unneeded(order, [FINAL], set()) == frozenset()
    # The compile hits, the final COPY does not: the compile's own inputs are left, the COPY's are not.
    assert unneeded(order, [FINAL], {COMPILE.digest}) == {
        BASE.digest,
        WORKDIR.digest,
        SOURCES.digest,
        CONTEXT.digest,
    }


def test_a_vertex_another_root_needs_is_needed() -> None:
    other = Vertex(Exec(args=("go", "vet"), env=(), cwd="/src", user=""), (SOURCES,))
    order = walk(FINAL, other)
    assert unneeded(order, [FINAL, other], {FINAL.digest}) == {COMPILE.digest, SCRATCH_BASE.digest}


def planner(hits: set[str], unknown: set[str]):  # type: ignore[no-untyped-def]
    def planned(vertex: Vertex, inputs: tuple[Result | None, ...]) -> tuple[Result | None, bool]:
        if vertex.digest in unknown or any(result is None for result in inputs):
            return None, False
        return Result(cache_key=f"key of {vertex.digest}"), vertex.digest in hits

    return planned


def test_plan_gives_the_keys_known_before_the_build_and_what_to_leave_undone() -> None:
    keys, left = plan(walk(FINAL), [FINAL], planner({FINAL.digest}, set()))
    assert keys == {v.digest: f"key of {v.digest}" for v in (WORKDIR, SOURCES, COMPILE, FINAL)}  # steps only
    assert left == BUILD_STAGE | {SCRATCH_BASE.digest, CONTEXT.digest}


def test_a_key_not_known_before_the_build_leaves_nothing_after_it_undone() -> None:
    download = Vertex(HttpSource(url="https://example.invalid/x", filename="x"))
    fetched = Vertex(Copy(sources=("x",), dest="/x"), (COMPILE, download))
    final = Vertex(Copy(sources=("/x",), dest="/x"), (SCRATCH_BASE, fetched))
    keys, left = plan(walk(final), [final], planner({final.digest}, {download.digest}))
    assert fetched.digest not in keys and final.digest not in keys
    assert left == frozenset()  # the final COPY's key was not known, so it is no hit


def test_work_put_aside_is_done_once_when_asked_for() -> None:
    later: OnDemand[int] = OnDemand()
    calls = []
    release = threading.Event()

    def work() -> int:
        calls.append(1)
        release.wait(5)
        return 42

    later.put("k", work)
    later.put("k", lambda: 0)  # the first work put aside for a key is the one done
    assert "k" in later and "other" not in later
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(later.get, "k") for _ in range(4)]
        release.set()
        assert [future.result() for future in futures] == [42] * 4
    assert calls == [1]
    with pytest.raises(KeyError):
        later.get("other")


def test_work_that_failed_is_tried_again_when_asked_again() -> None:
    later: OnDemand[str] = OnDemand()
    attempts = []

    def work() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk full")
        return "done"

    later.put("k", work)
    with pytest.raises(OSError):
        later.get("k")
    assert later.get("k") == "done"
