"""benchmarks/suite: the cache workloads export and import each way's cache with the flags a user would give,
are chosen only by name, count an import as cached only when every step says so, and report each slipway way
against BuildKit's inline cache."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from benchmarks.suite.__main__ import _args
from benchmarks.suite.builders import BuildKit, Slipway
from benchmarks.suite.caches import CACHE_ORDER, PEER, CacheWay, Place, not_cached, ways
from benchmarks.suite.dockerd import Dockerd
from benchmarks.suite.measure import Result
from benchmarks.suite.report import summaries, table
from benchmarks.suite.workloads import ORDER, RunCheck, Workload

SEED = Workload(
    "seed", "bench-seed", Path("/w/seed"), Path("/w/seed/Dockerfile"), RunCheck(("/bin/hello",), "hi")
)
PLACE = Place("127.0.0.1:5000", Path("/fs/caches/local"))
REF = "127.0.0.1:5000/cache/bench-seed-{}:v1"


def slipway() -> Slipway:
    return Slipway(Path("/fs/slipway"), {}, Path("/repo"), "HEAD")


def buildkit() -> BuildKit:
    return BuildKit(Dockerd(1, Path("/fs/docker.sock")), {})


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_slipway_runs_three_ways_and_buildkit_its_inline_cache() -> None:
    assert [way.name for way in ways([slipway(), buildkit()])] == [
        "slipway-registry", "slipway-local", "slipway-inline", PEER,
    ]  # fmt: skip


def test_registry_and_local_ways_export_with_cache_to_and_import_with_cache_from() -> None:
    registry, local = CacheWay(slipway(), "registry"), CacheWay(slipway(), "local")
    exported = registry.export_argv(SEED, PLACE)
    assert exported[exported.index("build") - 2 : exported.index("build")] == ["--root", "/fs/slipway/root"]
    assert flag(exported, "--cache-to") == f"type=registry,ref={REF.format('registry')}"
    assert (
        flag(registry.import_argv(SEED, PLACE), "--cache-from")
        == f"type=registry,ref={REF.format('registry')}"
    )
    assert flag(local.export_argv(SEED, PLACE), "--cache-to") == "type=local,dest=/fs/caches/local"
    assert flag(local.import_argv(SEED, PLACE), "--cache-from") == "type=local,src=/fs/caches/local"
    for argv in (exported, registry.import_argv(SEED, PLACE)):
        assert flag(argv, "-t") == "bench-seed" and argv[-1] == "/w/seed"


def test_inline_ways_build_then_push_in_one_timed_command_and_import_from_the_image() -> None:
    ref = REF.format("inline")
    mine, theirs = CacheWay(slipway(), "inline"), CacheWay(buildkit(), "inline")
    sh, dash_c, script = mine.export_argv(SEED, PLACE)
    assert (sh, dash_c) == ("sh", "-c")
    build, push = (shlex.split(part) for part in script.split(" && "))
    assert flag(build, "--cache-to") == "type=inline" and flag(build, "-t") == ref
    assert push[-3:] == ["push", ref, ref]
    _, _, script = theirs.export_argv(SEED, PLACE)
    build, push = (shlex.split(part) for part in script.split(" && "))
    assert flag(build, "--build-arg") == "BUILDKIT_INLINE_CACHE=1" and flag(build, "-t") == ref
    assert push[-3:] == ["push", "-q", ref] and "--cache-to" not in build
    for way in (mine, theirs):
        assert flag(way.import_argv(SEED, PLACE), "--cache-from") == ref
        assert flag(way.import_argv(SEED, PLACE), "-t") == "bench-seed"


CACHED_IMPORT = """\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s

#4 importing cache manifest from 127.0.0.1:5000/cache/bench-seed-inline:v1
#4 DONE 0.1s

#5 [stage-0 1/4] FROM docker.io/library/golang:1.24
#5 DONE 0.0s

#6 [stage-0 2/4] WORKDIR /src
#6 CACHED

#7 [stage-0 4/4] RUN go build -o /bin/hello ./basicExamples.go
#7 CACHED

#8 [stage-1 1/1] COPY --from=0 /bin/hello /bin/hello
#8 CACHED
"""


def test_an_import_is_cached_when_every_step_but_from_says_cached() -> None:
    assert not_cached(CACHED_IMPORT) == []
    ran = CACHED_IMPORT.replace("#7 CACHED\n", "#7 0.512 compiling\n#7 DONE 9.1s\n")
    assert not_cached(ran) == ["RUN go build -o /bin/hello ./basicExamples.go"]
    assert not_cached("#2 [2/2] COPY data /data\n#2 DONE 1.2s\n") == ["COPY data /data"]


def test_a_log_without_steps_is_not_a_cached_import() -> None:
    assert not_cached("#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\n") != []
    assert not_cached("") != []


def test_cache_workloads_are_chosen_by_name_only_with_their_own_builders() -> None:
    assert not set(CACHE_ORDER) & set(_args([]).workloads)
    assert set(ORDER) == set(_args([]).workloads)
    args = _args(["--workloads", "cache-seed,cache-ctx-many-files"])
    assert args.caches and not args.transfers and args.builders == ["slipway", "buildkit"]
    with pytest.raises(SystemExit):
        _args(["--workloads", "cache-seed,seed"])  # a cache workload and a build workload do not mix
    with pytest.raises(SystemExit):
        _args(["--workloads", "cache-seed", "--builders", "buildah"])


def result(builder: str, run: int, seconds: float, phase: str = "import") -> Result:
    return Result("cache-seed", phase, builder, run, seconds, 0, True, "", True, "")


def test_each_slipway_way_gets_its_ratio_to_buildkits_inline_cache() -> None:
    results = [
        result(PEER, 0, 4.0), result("slipway-registry", 0, 2.0), result("slipway-local", 0, 1.0),
        result(PEER, 1, 5.0), result("slipway-registry", 1, 2.5), result("slipway-local", 1, 5.0),
    ]  # fmt: skip
    builders = ["slipway-registry", "slipway-local", PEER]
    rows = table(results, builders, (PEER,)).splitlines()
    assert "slipway/BuildKit inline" in rows[0]
    assert rows[2].startswith("| cache-seed (import) | slipway-registry | 2.25s |") and "| 0.50 |" in rows[2]
    assert rows[3].startswith("|  | slipway-local | 3.00s |") and "| 0.62 |" in rows[3]
    assert rows[4].startswith(f"|  | {PEER} | 4.50s |")
    (line,) = summaries(results, builders, (PEER,))
    assert f"slipway-registry/{PEER} 0.50" in line and f"slipway-local/{PEER} 0.62" in line
