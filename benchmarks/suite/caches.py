"""The cache workloads: a build cache exported to a loopback registry or a directory, then imported into an
empty store, slipway against docker BuildKit.

    benchmarks/run --workloads cache-seed,cache-ctx-many-files [--builders slipway,buildkit] [--runs 3]

Each workload is a build workload (the seed, the COPY of 20,000 files) timed twice per builder:

    export  a cold build (base images only) that also exports its cache, up to the cache being written
    import  a build in a store holding only the base images, with `--cache-from` that cache: every step must be
            answered from it (the plain progress says CACHED for every step but FROM) and the image must work

slipway exports three ways, each a row of its own: `--cache-to type=registry,ref=…`, `type=local,dest=DIR`,
and `type=inline` then `slipway push`. BuildKit's registry and local cache exporters need buildx (a
docker-container builder), which this machine does not have: dockerd's built-in BuildKit exports only the inline
cache, `docker build --build-arg BUILDKIT_INLINE_CACHE=1` then `docker push`, imported with `docker build
--cache-from REF`. Every slipway row's ratio is against that. All caches use mode=min (the final image's
steps), the only mode of an inline cache. Each way of exporting gets a registry of its own, fresh for each run,
so no push finds a blob another one left there.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.suite.builders import Builder, BuildKit, Slipway
from benchmarks.suite.measure import Result, Timed, in_turn, timed
from benchmarks.suite.quiet import wait_for_quiet
from benchmarks.suite.workloads import RunCheck, Workload

# Each cache workload and the build workload it runs.
CACHE_WORKLOADS = {"cache-seed": "seed", "cache-ctx-many-files": "ctx-many-files"}
CACHE_ORDER = tuple(CACHE_WORKLOADS)
CACHE_BUILDERS = ("slipway", "buildkit")  # what --builders names; slipway runs as the three ways below
SLIPWAY_WAYS = ("registry", "local", "inline")
PEER = "buildkit-inline"
PHASES = ("export", "import")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the registry starter the tests and benchmarks/fleet share

from loopback_registry import running_registry  # noqa: E402

# A step of the plain progress (BuildKit's format, which slipway's follows): "#7 [stage-0 3/4] RUN go build …".
_STEP = re.compile(r"^#(\d+) \[(?:[^\]\s]+ )?\d+/\d+\] (\w+)(.*)$", re.MULTILINE)
_CACHED = re.compile(r"^#(\d+) CACHED$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Place:
    """Where one way's cache goes in one run: its registry (127.0.0.1:PORT) and a directory for type=local."""

    registry: str
    directory: Path

    def ref(self, workload: Workload, way: str) -> str:
        return f"{self.registry}/cache/{workload.tag}-{way}:v1"


class CacheWay:
    """One builder exporting and importing one kind of cache: a row of the table (its name is the builder's)."""

    def __init__(self, builder: Builder, way: str) -> None:
        self.builder = builder
        self.way = way
        self.name = f"{builder.name}-{way}"

    def export_tag(self, workload: Workload, place: Place) -> str:
        """The exported image's name: the registry reference where it is pushed with its inline cache."""
        return place.ref(workload, self.way) if self.way == "inline" else workload.tag

    def export_argv(self, workload: Workload, place: Place) -> list[str]:
        built = replace(workload, tag=self.export_tag(workload, place))
        build = self.builder.build_argv(built)
        if self.way == "registry":
            return with_flags(build, "--cache-to", f"type=registry,ref={place.ref(workload, self.way)}")
        if self.way == "local":
            return with_flags(build, "--cache-to", f"type=local,dest={place.directory}")
        if isinstance(self.builder, BuildKit):
            inline = with_flags(build, "--build-arg", "BUILDKIT_INLINE_CACHE=1")
            return both(inline, self.builder.daemon.client("push", "-q", built.tag))
        return both(
            with_flags(build, "--cache-to", "type=inline"), self.builder.push_argv(built.tag, built.tag)
        )

    def import_argv(self, workload: Workload, place: Place) -> list[str]:
        source = {
            "registry": f"type=registry,ref={place.ref(workload, self.way)}",
            "local": f"type=local,src={place.directory}",
            "inline": place.ref(workload, self.way),
        }[self.way]
        return with_flags(self.builder.build_argv(workload), "--cache-from", source)


def with_flags(argv: list[str], *flags: str) -> list[str]:
    """A builder's build command with `flags` right after its `build` word."""
    at = argv.index("build") + 1
    return [*argv[:at], *flags, *argv[at:]]


def both(first: list[str], second: list[str]) -> list[str]:
    """One command that runs `first`, then `second` if it succeeded: both inside the timed window."""
    return ["sh", "-c", f"{shlex.join(first)} && {shlex.join(second)}"]


def not_cached(progress: str) -> list[str]:
    """The steps of a plain progress log that were not answered from the cache (FROM lines aside); every step
    when the log shows none, so a build that printed nothing is not taken for a cached one."""
    steps = {
        number: f"{word}{rest}" for number, word, rest in _STEP.findall(progress) if word.upper() != "FROM"
    }
    if not steps:
        return ["(no steps in the progress output)"]
    cached = set(_CACHED.findall(progress))
    return [name for number, name in steps.items() if number not in cached]


def ways(builders: list[Builder]) -> list[CacheWay]:
    """The rows: slipway's three ways, BuildKit's inline cache."""
    rows = []
    for builder in builders:
        if isinstance(builder, Slipway):
            rows += [CacheWay(builder, way) for way in SLIPWAY_WAYS]
        elif isinstance(builder, BuildKit):
            rows.append(CacheWay(builder, "inline"))
    return rows


def _check_image(way: CacheWay, tag: str, check: RunCheck) -> tuple[bool, str]:
    done = way.builder.run_in(tag, check.argv)
    got = done.stdout.strip()
    ok = done.returncode == 0 and (check.expected in got if check.contains else got == check.expected)
    return (
        ok,
        "" if ok else f"ran {list(check.argv)}: exit {done.returncode}, got {(got + done.stderr)[-300:]!r}",
    )


def measure_way(
    way: CacheWay, name: str, workload: Workload, phase: str, place: Place, run_index: int, logs: Path
) -> Result:
    """Time one phase of one way: from an empty store (base images only), export or import the cache."""
    log = logs / f"{name}.{way.name}.{phase}.run{run_index}.log"
    way.builder.reset()
    if phase == "export":
        shutil.rmtree(place.directory, ignore_errors=True)
    quiet = wait_for_quiet()
    argv = way.export_argv(workload, place) if phase == "export" else way.import_argv(workload, place)
    step: Timed = timed(way.builder, argv, log)
    ok, detail = step.returncode == 0, f"exit {step.returncode}"
    if ok and phase == "import":
        missed = not_cached(log.read_text(errors="replace"))
        ok, detail = not missed, f"not from the cache: {'; '.join(missed)[:300]}" if missed else ""
    if ok and isinstance(workload.check, RunCheck):
        tag = way.export_tag(workload, place) if phase == "export" else workload.tag
        ok, detail = _check_image(way, tag, workload.check)
    seconds = step.seconds if step.returncode == 0 else None
    return Result(
        name, phase, way.name, run_index, seconds, step.peak_bytes, ok, detail, quiet.reached, str(log)
    )


def _one_run(
    rows: list[CacheWay],
    names: list[str],
    workloads: dict[str, Workload],
    run_index: int,
    fs: Path,
    logs: Path,
) -> Iterator[Result]:
    with ExitStack() as stack:
        places = {}
        for way in rows:
            home = fs / "caches" / f"run{run_index}" / way.name
            server = stack.enter_context(running_registry(home / "registry"))
            places[way.name] = Place(server.host, home / "local")
        for position, name in enumerate(names):
            workload = workloads[CACHE_WORKLOADS[name]]
            for phase in PHASES:
                for way in in_turn(rows, run_index, position):
                    result = measure_way(way, name, workload, phase, places[way.name], run_index, logs)
                    seconds = "failed" if result.seconds is None else f"{result.seconds:.2f}s"
                    state = "ok" if result.ok else f"WRONG: {result.detail}"
                    print(f"run {run_index + 1} {result.row} {way.name}: {seconds}, "
                          f"{result.peak_bytes / 2**20:.0f} MiB, {state}", file=sys.stderr)  # fmt: skip
                    yield result
        for way in rows:
            way.builder.reset()
    shutil.rmtree(fs / "caches" / f"run{run_index}", ignore_errors=True)


def measure_all(
    names: list[str], builders: list[Builder], workloads: dict[str, Workload], runs: int, fs: Path, logs: Path
) -> list[Result]:
    """Time every way of every builder on every cache workload, `runs` times, alternating who goes first."""
    rows = ways(builders)
    results: list[Result] = []
    for run_index in range(runs):
        results.extend(_one_run(rows, names, workloads, run_index, fs, logs))
    return results
