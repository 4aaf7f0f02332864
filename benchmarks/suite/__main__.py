"""benchmarks/run: slipway against docker BuildKit and Buildah, side by side, on one dedicated file system.

    benchmarks/run [--runs 5] [--quick] [--workloads seed,export] [--builders slipway,buildkit,buildah]
                   [--slipway-rev HEAD] [--report results/<timestamp>]
    benchmarks/run --workloads pull-big,pull-many,load-big,load-many [--builders slipway,skopeo,docker] [--synced]

    benchmarks/run --workloads cache-seed,cache-ctx-many-files [--builders slipway,buildkit]

The second form runs the transfer workloads (suite/transfers.py): pulls from a loopback registry and loads of
a `docker save` archive, slipway against skopeo and docker. The third runs the cache workloads
(suite/caches.py): a cold build exporting its cache to a loopback registry or a directory, then a build in an
empty store importing it, slipway's registry, local and inline caches against BuildKit's inline cache.

Needs root (loop mounts, overlayfs, dockerd). Results go to results/<timestamp>/: table.md, chart, results.json
and every command's log; one summary line per workload goes to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.suite import report
from benchmarks.suite.bases import make_bases
from benchmarks.suite.benchfs import CONTEXTS_FS_SIZE, DEFAULT_IMAGE, bench_filesystem, tmpfs_mount
from benchmarks.suite.builders import Buildah, Builder, BuildKit, Slipway, bench_env
from benchmarks.suite.caches import CACHE_BUILDERS, CACHE_ORDER
from benchmarks.suite.caches import PEER as CACHE_PEER
from benchmarks.suite.caches import measure_all as measure_caches
from benchmarks.suite.dockerd import private_dockerd
from benchmarks.suite.floor import Floor
from benchmarks.suite.measure import Result, in_turn, measure
from benchmarks.suite.packages import ensure_packages
from benchmarks.suite.transfers import PEERS, TOOLS, TRANSFER_ORDER, measure_all
from benchmarks.suite.workloads import ELSEWHERE_SUFFIXES, ORDER, make_local_workloads, make_workloads

REPO = Path(__file__).resolve().parents[2]
# "floor": each workload's own work with no builder (floor.py), which every builder's overhead is measured above.
ALL_BUILDERS = ("slipway", "buildkit", "buildah", "floor")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--runs", type=int, default=5, help="timed runs per builder and workload (default 5)")
    parser.add_argument("--quick", action="store_true", help="one run each: a smoke test of the whole suite")
    parser.add_argument(
        "--workloads", type=_csv, default=list(ORDER), help="comma-separated; default all the build workloads"
    )
    parser.add_argument(
        "--builders", type=_csv, help="comma-separated; default all (the tools, for transfers)"
    )
    parser.add_argument(
        "--results", type=Path, default=REPO / "results", help="results folder (default results/)"
    )
    parser.add_argument(
        "--slipway-rev",
        default="HEAD",
        help="the slipway commit to measure, exported with git archive (default HEAD)",
    )
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="only redraw DIR's table and chart from its results.json"
    )
    parser.add_argument(
        "--fs-image", type=Path, default=DEFAULT_IMAGE, help="sparse file for the bench file system"
    )
    parser.add_argument(
        "--synced",
        action="store_true",
        help="transfers: time skopeo and docker up to a syncfs after their copy, as slipway's ends synced",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 1
    args.transfers = any(w in TRANSFER_ORDER for w in args.workloads)
    args.caches = any(w in CACHE_ORDER for w in args.workloads)
    if args.transfers:
        workloads, builders = TRANSFER_ORDER, TOOLS
    elif args.caches:
        workloads, builders = CACHE_ORDER, CACHE_BUILDERS
    else:
        workloads, builders = ORDER, ALL_BUILDERS
    args.builders = args.builders or list(builders)
    unknown = [w for w in args.workloads if w not in workloads] + [
        b for b in args.builders if b not in builders
    ]
    if unknown:
        parser.error(
            f"unknown workloads or builders: {', '.join(unknown)} (build, transfer and cache workloads do not "
            f"mix); workloads are {', '.join(ORDER)}, or {', '.join(TRANSFER_ORDER)}, or {', '.join(CACHE_ORDER)}"
        )
    return args


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as err:
        return f"unavailable ({err})"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "?"
    )


def _buildkit_ran(logs: Path) -> str:
    for log in sorted(logs.glob("*.buildkit*.log")):
        text = log.read_text(errors="replace")
        if "load build definition" in text:
            return "BuildKit (its '#N [internal] load build definition' progress format)"
        if "Sending build context to Docker daemon" in text or "\nStep 1/" in text:
            return "the classic builder, not BuildKit ('Step N/M' output)"
    return "unknown (no docker build log)"


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.report is not None:
        return _republish(args.report)
    if os.geteuid() != 0:
        print("benchmarks/run: run as root (loop mounts, overlayfs, dockerd)", file=sys.stderr)
        return 1
    if args.transfers:
        return _transfers(args)
    if args.caches:
        return _caches(args)
    ensure_packages()
    out_dir = args.results / time.strftime("%Y%m%d-%H%M%S")
    logs = out_dir / "logs"
    logs.mkdir(parents=True)
    cache = args.results / "cache"
    order = [w for w in ORDER if w in args.workloads]
    builders_wanted = [b for b in ALL_BUILDERS if b in args.builders]
    results: list[Result] = []
    meta: dict[str, str] = {
        "slipway": _version(["slipway", "--version"]),
        "docker": _version(["/usr/bin/docker", "--version"]),
        "buildah": _version(["buildah", "--version"]),
        "kernel": platform.release(),
        "runs": str(args.runs),
    }
    with ExitStack() as stack:
        fs, tmpdir, env = _bench_space(stack, args.fs_image, out_dir)
        bases = make_bases(cache, tmpdir)
        # Named after the bench file system's image, so runs with their own --fs-image do not share them.
        tmpfs = stack.enter_context(tmpfs_mount(args.fs_image.with_suffix(".contexts-tmpfs")))
        loopfs = stack.enter_context(
            bench_filesystem(args.fs_image.with_suffix(".contexts.img"), size=CONTEXTS_FS_SIZE)
        )
        elsewhere = dict(zip(ELSEWHERE_SUFFIXES, (tmpfs, loopfs), strict=True))
        workloads = make_workloads(REPO, fs / "workloads", elsewhere)
        builders: list[Builder] = []
        for name in builders_wanted:
            if name == "slipway":
                builders.append(Slipway(fs / "slipway", env, REPO, args.slipway_rev))
            elif name == "floor":
                builders.append(Floor(fs / "floor", env, REPO))
            elif name == "buildkit":
                daemon = stack.enter_context(private_dockerd(fs / "docker", tmpdir, logs / "dockerd.log"))
                builders.append(BuildKit(daemon, env))
            else:
                builders.append(Buildah(fs / "buildah", env))
        for builder in builders:
            print(f"importing base images into {builder.name}", file=sys.stderr)
            builder.prepare(bases)
        meta["slipway commit"] = next((b.commit for b in builders if isinstance(b, Slipway)), "")
        meta["buildah_storage"] = next((b.describe() for b in builders if b.name == "buildah"), "")
        scratch = fs / "archives"
        scratch.mkdir()
        for run_index in range(args.runs):
            for position, name in enumerate(order):
                for builder in in_turn(builders, run_index, position):
                    got = measure(builder, workloads[name], run_index, logs, scratch)
                    results.extend(got)
                    for r in got:
                        state = "ok" if r.ok else f"WRONG: {r.detail}"
                        seconds = "failed" if r.seconds is None else f"{r.seconds:.2f}s"
                        print(f"run {run_index + 1}/{args.runs} {r.row} {r.builder}: {seconds}, "
                              f"{r.peak_bytes / 2**20:.0f} MiB, {state}", file=sys.stderr)  # fmt: skip
                    (out_dir / "results.json").write_text(
                        json.dumps(
                            {"meta": meta, "results": [dataclasses.asdict(r) for r in results]}, indent=1
                        )
                    )
        meta["docker_builder"] = _buildkit_ran(logs)
    names = [b for b in ALL_BUILDERS if b in builders_wanted]
    return _publish(out_dir, meta, results, names)


def _bench_space(stack: ExitStack, image: Path, out_dir: Path) -> tuple[Path, Path, dict[str, str]]:
    """The bench file system (unmounted when `stack` closes), its TMPDIR, and the builders' environment."""
    fs = stack.enter_context(bench_filesystem(image))
    tmpdir = fs / "tmp"
    tmpdir.mkdir()
    print(f"bench file system at {fs}; results in {out_dir}", file=sys.stderr)
    return fs, tmpdir, bench_env(tmpdir)


def _transfers(args: argparse.Namespace) -> int:
    out_dir = args.results / time.strftime("%Y%m%d-%H%M%S")
    logs = out_dir / "logs"
    logs.mkdir(parents=True)
    order = [w for w in TRANSFER_ORDER if w in args.workloads]
    tools = [t for t in TOOLS if t in args.builders]
    meta = {
        "slipway": _version(["slipway", "--version"]),
        "skopeo": _version(["skopeo", "--version"]),
        "docker": _version(["/usr/bin/docker", "--version"]),
        "kernel": platform.release(),
        "runs": str(args.runs),
        "peers": ",".join(PEERS),
        "peers synced": "yes (a syncfs after each copy)"
        if args.synced
        else "no (their writes left in the page cache)",
    }
    with ExitStack() as stack:
        fs, tmpdir, env = _bench_space(stack, args.fs_image, out_dir)
        slipway = Slipway(fs / "slipway", env, REPO, args.slipway_rev)
        slipway._export_source()
        meta["slipway commit"] = slipway.commit
        daemon = None
        if "docker" in tools:
            daemon = stack.enter_context(private_dockerd(fs / "docker", tmpdir, logs / "dockerd.log"))
        results = measure_all(order, tools, args.runs, fs, logs, slipway, daemon, args.synced)
    meta["load average"] = _load_average()
    return _publish(out_dir, meta, results, tools)


def _caches(args: argparse.Namespace) -> int:
    """The cache workloads: slipway and BuildKit (a private dockerd) with the base images imported, and one
    loopback registry per way of exporting (suite/caches.py)."""
    ensure_packages()
    out_dir = args.results / time.strftime("%Y%m%d-%H%M%S")
    logs = out_dir / "logs"
    logs.mkdir(parents=True)
    order = [w for w in CACHE_ORDER if w in args.workloads]
    meta = {
        "slipway": _version(["slipway", "--version"]),
        "docker": _version(["/usr/bin/docker", "--version"]),
        "kernel": platform.release(),
        "runs": str(args.runs),
        "peers": CACHE_PEER,
        "load average at the start": _load_average(),
        "BuildKit's cache": "inline only (dockerd's built-in BuildKit; its registry and local exporters need "
        "buildx, which this machine lacks)",
    }
    with ExitStack() as stack:
        fs, tmpdir, env = _bench_space(stack, args.fs_image, out_dir)
        bases = make_bases(args.results / "cache", tmpdir)
        workloads = make_local_workloads(REPO, fs / "workloads")
        builders: list[Builder] = []
        if "slipway" in args.builders:
            builders.append(Slipway(fs / "slipway", env, REPO, args.slipway_rev))
        if "buildkit" in args.builders:
            daemon = stack.enter_context(private_dockerd(fs / "docker", tmpdir, logs / "dockerd.log"))
            builders.append(BuildKit(daemon, env))
        for builder in builders:
            print(f"importing base images into {builder.name}", file=sys.stderr)
            builder.prepare(bases)
        meta["slipway commit"] = next((b.commit for b in builders if isinstance(b, Slipway)), "")
        results = measure_caches(order, builders, workloads, args.runs, fs, logs)
        if any(isinstance(b, BuildKit) for b in builders):
            meta["docker_builder"] = _buildkit_ran(logs)
    meta["load average at the end"] = _load_average()
    names = list(dict.fromkeys(r.builder for r in results))
    return _publish(out_dir, meta, results, names)


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _publish(out_dir: Path, meta: dict[str, str], results: list[Result], names: list[str]) -> int:
    """Write results.json, table.md and the chart into out_dir; print the table and the summary lines."""
    (out_dir / "results.json").write_text(
        json.dumps({"meta": meta, "results": [dataclasses.asdict(r) for r in results]}, indent=1)
    )
    peers = tuple(meta["peers"].split(",")) if meta.get("peers") else report.BUILD_PEERS
    header = "".join(f"- {k}: {v}\n" for k, v in meta.items())
    (out_dir / "table.md").write_text(header + "\n" + report.table(results, names, peers))
    chart = report.chart(results, names, out_dir, peers)
    print(report.table(results, names, peers), file=sys.stderr)
    print(header, file=sys.stderr)
    print(f"table: {out_dir / 'table.md'}; chart: {chart}", file=sys.stderr)
    for line in report.summaries(results, names, peers):
        print(line)
    return 0 if all(r.ok for r in results) else 2


def _republish(out_dir: Path) -> int:
    """Redraw a (possibly interrupted) run's table and chart from its results.json."""
    saved = json.loads((out_dir / "results.json").read_text())
    results = [Result(**r) for r in saved["results"]]
    names = list(dict.fromkeys(r.builder for r in results))
    return _publish(out_dir, saved["meta"], results, names)


if __name__ == "__main__":
    sys.exit(main())
