"""benchmarks/suite: the context workloads run again with their context on each other file system, under
names and tags of their own, with the same files."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.suite import benchfs
from benchmarks.suite import workloads as suite_workloads
from benchmarks.suite.measure import in_turn
from benchmarks.suite.workloads import ELSEWHERE, ELSEWHERE_SUFFIXES, ORDER, TABLE_ORDER, make_workloads

REPO = Path(__file__).resolve().parents[2]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_each_context_workload_is_made_again_on_every_other_file_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(suite_workloads, "MANY_DIRS", 2)
    monkeypatch.setattr(suite_workloads, "FILES_PER_DIR", 3)
    base = tmp_path / "bench"
    elsewhere = {suffix: tmp_path / f"other{suffix}" for suffix in ELSEWHERE_SUFFIXES}
    made = make_workloads(REPO, base, elsewhere)

    for suffix, other in elsewhere.items():
        for name in ELSEWHERE:
            original, moved = made[name], made[name + suffix]
            assert moved.tag == original.tag + suffix  # no builder's cache of the original answers for it
            assert moved.context == other / original.context.relative_to(base)
            assert moved.dockerfile.is_file() and moved.dockerfile.is_relative_to(other)
            assert moved.check == original.check and moved.cold == original.cold
            if original.edit is not None:
                assert moved.edit == other / original.edit.relative_to(base)
            assert _files(moved.context) == _files(original.context)
    # Every workload made is run, and tabled, exactly once.
    assert sorted(ORDER) == sorted(TABLE_ORDER) == sorted(made)


def test_a_second_run_on_the_same_bench_file_system_waits_for_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs on one file system image would clean up each other's mounts: the second waits its turn."""
    events: list[str] = []

    def fake_fresh(image: Path, size: str) -> Iterator[Path]:
        events.append("mounted")
        yield image.with_suffix(".mnt")
        events.append("unmounted")

    monkeypatch.setattr(benchfs, "_fresh_filesystem", fake_fresh)
    image = tmp_path / "fs.img"
    second_done = threading.Event()

    def second_run() -> None:
        with benchfs.bench_filesystem(image):
            events.append("second ran")
        second_done.set()

    with benchfs.bench_filesystem(image):
        waiter = threading.Thread(target=second_run)
        waiter.start()
        assert not second_done.wait(0.5)  # still waiting while the first holds the file system
    waiter.join(10)
    assert events == ["mounted", "unmounted", "mounted", "second ran", "unmounted"]


def test_every_contender_goes_first_in_turn_even_in_a_single_run() -> None:
    builders = ["slipway", "buildkit", "floor"]
    firsts = [in_turn(builders, 0, position)[0] for position in range(3)]
    assert sorted(firsts) == sorted(builders)  # --runs 1 no longer times slipway first in every workload
    for run_index in range(3):
        for position in range(4):
            assert sorted(in_turn(builders, run_index, position)) == sorted(builders)
    assert [in_turn(builders, run, 0)[0] for run in range(3)] == builders
