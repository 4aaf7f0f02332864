"""benchmarks/suite: the floor carries out only what the target needs, and the report's overhead is each
builder's time above the floor's in the same run."""

from __future__ import annotations

from benchmarks.suite.floor import _needed, _parse
from benchmarks.suite.measure import Result
from benchmarks.suite.report import _overhead, _overhead_ratio, table

DOCKERFILE = """\
FROM busybox:static AS needed
RUN echo needed > /needed
FROM busybox:static AS unused
RUN sleep 5
FROM golang:1.24
WORKDIR /src
COPY --from=needed /needed /needed
"""


def test_the_floor_runs_the_stages_the_target_copies_from_and_no_other() -> None:
    stages = _needed(_parse(DOCKERFILE))
    assert [stage.name for stage in stages] == ["needed", "2"]
    assert stages[-1].base == "golang:1.24"
    assert stages[-1].steps == [("WORKDIR", "/src"), ("COPY", "--from=needed /needed /needed")]


def result(builder: str, run: int, seconds: float) -> Result:
    return Result("seed", "cold", builder, run, seconds, 0, True, "", True, "")


def test_overhead_is_the_median_of_each_runs_time_above_the_floor() -> None:
    results = [
        result("floor", 0, 10.0), result("slipway", 0, 11.0), result("buildkit", 0, 14.0),
        result("floor", 1, 12.0), result("slipway", 1, 12.5), result("buildkit", 1, 15.0),
    ]  # fmt: skip
    assert _overhead(results, "seed (cold)", "slipway") == 0.75
    assert _overhead(results, "seed (cold)", "buildkit") == 3.5
    assert _overhead_ratio(results, "seed (cold)") == 0.75 / 3.5
    rows = table(results, ["slipway", "buildkit", "floor"]).splitlines()
    assert "over the floor" in rows[0]
    assert "| seed (cold) | slipway | 11.75s |" in rows[2] and "| 0.75s |" in rows[2]
