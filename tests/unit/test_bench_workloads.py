"""benchmarks/suite: the context workloads run again with their context on each other file system, under
names and tags of their own, with the same files."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.suite import workloads as suite_workloads
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
