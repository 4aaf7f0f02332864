"""benchmarks/scaling: how slipway's cost grows with the size of the job, against BuildKit's (issue 17 item 3).

    benchmarks/scaling [--sizes smallest|all] [--families context,steps,stages,image] [--runs 3]
                       [--builders slipway,buildkit] [--slipway-rev HEAD] [--results results/]

Families, each at several sizes (`--sizes smallest` runs the first of each: a check that the suite works):
    context  a COPY of a context of 2,000 / 20,000 / 200,000 files (~1 KiB each): cold, no-op rebuild, one-file edit
    steps    one stage of 10 / 100 / 500 steps (COPY and RUN alternating): cold, no-op rebuild
    stages   20 / 100 stages, each a RUN, copied into one final stage: cold, no-op rebuild
    image    an image of 100 MB / 1 GB / 4 GB (one RUN writing random bytes): build, save, push and pull
             (pull into a store holding only the base image), from a loopback registry

Each step is timed with its peak memory (the builder's process trees, as benchmarks/run measures them), and
its result checked. Results go to results/scaling-<timestamp>/: scaling.csv (one row per timed step),
results.json, and scaling.png (log-log: median time and peak memory against size, a line per builder and
phase) when matplotlib imports. Needs root, like benchmarks/run, and runs on the same dedicated file system.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from benchmarks.suite.bases import make_busybox
from benchmarks.suite.benchfs import DEFAULT_IMAGE, bench_filesystem
from benchmarks.suite.builders import Builder, BuildKit, Slipway, bench_env
from benchmarks.suite.dockerd import private_dockerd
from benchmarks.suite.measure import Result, timed
from benchmarks.suite.quiet import wait_for_quiet
from benchmarks.suite.transfers import running_registry
from benchmarks.suite.workloads import RunCheck, Workload

REPO = Path(__file__).resolve().parents[2]
BUILDERS = ("slipway", "buildkit")
FAMILIES = {
    "context": (2_000, 20_000, 200_000),  # files
    "steps": (10, 100, 500),  # steps in one stage
    "stages": (20, 100),  # stages
    "image": (100, 1_000, 4_000),  # MB
}
FILES_PER_DIR = 200
FILE_SIZES = (512, 1536)  # ~1 KiB on average


@dataclass(frozen=True, slots=True)
class Point:
    """One timed step: `family` at `size`; the result's phase is the step (cold, no-op, edit, save, push, pull)."""

    family: str
    size: int
    result: Result


@dataclass(frozen=True, slots=True)
class Case:
    """A family at one size: the workload to build and the timed steps after the cold build."""

    family: str
    size: int
    workload: Workload
    phases: tuple[str, ...]  # after "cold": "no-op", "edit" (context), "save", "push", "pull" (image)
    edit: Path | None = None


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _context_case(base: Path, files: int) -> Case:
    context = base / f"context-{files}"
    rng = random.Random(files)
    total = 0
    for index in range(files):
        directory = context / "data" / f"d{index // FILES_PER_DIR:04d}"
        directory.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(rng.randint(*FILE_SIZES))
        (directory / f"f{index % FILES_PER_DIR:03d}").write_bytes(data)
        total += len(data)
    dockerfile = _write(context / "Dockerfile", "FROM busybox:static\nCOPY data /data\n")
    count = ("sh", "-c", "find /data -type f | wc -l")
    workload = Workload(
        f"context-{files}", f"scale-context-{files}", context, dockerfile, RunCheck(count, str(files))
    )
    return Case("context", files, workload, ("no-op", "edit"), edit=context / "data" / "d0000" / "f000")


def _steps_case(base: Path, steps: int) -> Case:
    context = base / f"steps-{steps}"
    lines = ["FROM busybox:static", "RUN mkdir /chain"]
    for index in range(2, steps + 1):
        if index % 2:
            lines.append(f"RUN echo {index} > /chain/run-{index:04d}")
        else:
            _write(context / f"f{index:04d}", f"file {index}\n")
            lines.append(f"COPY f{index:04d} /chain/copy-{index:04d}")
    dockerfile = _write(context / "Dockerfile", "\n".join(lines) + "\n")
    check = RunCheck(("sh", "-c", "ls /chain | wc -l"), str(steps - 1))
    return Case(
        "steps",
        steps,
        Workload(f"steps-{steps}", f"scale-steps-{steps}", context, dockerfile, check),
        ("no-op",),
    )


def _stages_case(base: Path, stages: int) -> Case:
    context = base / f"stages-{stages}"
    text = "".join(f"FROM busybox:static AS s{n}\nRUN echo s{n} > /out\n" for n in range(stages))
    text += "FROM busybox:static\n" + "".join(f"COPY --from=s{n} /out /stages/s{n}\n" for n in range(stages))
    dockerfile = _write(context / "Dockerfile", text)
    check = RunCheck(("sh", "-c", "ls /stages | wc -l"), str(stages))
    workload = Workload(f"stages-{stages}", f"scale-stages-{stages}", context, dockerfile, check)
    return Case("stages", stages, workload, ("no-op",))


def _image_case(base: Path, megabytes: int) -> Case:
    context = base / f"image-{megabytes}"
    size = megabytes * 1_000_000
    dockerfile = _write(
        context / "Dockerfile", f"FROM busybox:static\nRUN head -c {size} /dev/urandom > /big\n"
    )
    check = RunCheck(("sh", "-c", "wc -c < /big"), str(size))
    workload = Workload(f"image-{megabytes}", f"scale-image-{megabytes}", context, dockerfile, check)
    return Case("image", megabytes, workload, ("save", "push", "pull"))


MAKERS: dict[str, Callable[[Path, int], Case]] = {
    "context": _context_case,
    "steps": _steps_case,
    "stages": _stages_case,
    "image": _image_case,
}


def _reference(registry: str, workload: Workload) -> str:
    return f"{registry}/scale/{workload.tag}:v1"


def _check(builder: Builder, workload: Workload, image: str) -> tuple[bool, str]:
    check = workload.check
    assert isinstance(check, RunCheck)
    done = builder.run_in(image, check.argv)
    got = done.stdout.strip()
    return got == check.expected, "" if got == check.expected else f"got {(got + done.stderr)[-200:]!r}"


def _argv(builder: Builder, case: Case, phase: str, registry: str, scratch: Path) -> list[str]:
    workload = case.workload
    ref = _reference(registry, workload)
    match phase:
        case "cold" | "no-op" | "edit":
            return builder.build_argv(workload)
        case "save":
            return builder.save_argv(workload.tag, scratch / f"{workload.tag}.tar")
        case "push":
            return builder.push_argv(workload.tag, ref)
        case "pull":
            builder.forget(workload.tag, ref)
            return builder.pull_argv(ref)
    raise ValueError(phase)


def measure_case(
    builder: Builder, case: Case, run_index: int, registry: str, logs: Path, scratch: Path
) -> Iterator[Point]:
    """The cold build, then each later phase, on one builder; a failed step ends the case."""
    log = logs / f"{case.workload.name}.{builder.name}.run{run_index}.log"
    builder.reset()
    for phase in ("cold", *case.phases):
        original = case.edit.read_bytes() if phase == "edit" and case.edit is not None else None
        if original is not None and case.edit is not None:
            case.edit.write_text(f"edited in run {run_index} for {builder.name}\n")
        try:
            argv = _argv(builder, case, phase, registry, scratch)
            quiet = wait_for_quiet()
            step = timed(builder, argv, log)
        finally:
            if original is not None and case.edit is not None:
                case.edit.write_bytes(original)
        ok, detail = (step.returncode == 0, f"exit {step.returncode}")
        if ok and phase in ("cold", "edit", "pull"):
            image = _reference(registry, case.workload) if phase == "pull" else case.workload.tag
            ok, detail = _check(builder, case.workload, image)
        (scratch / f"{case.workload.tag}.tar").unlink(missing_ok=True)
        seconds = step.seconds if step.returncode == 0 else None
        result = Result(case.workload.name, phase, builder.name, run_index, seconds, step.peak_bytes, ok, detail,
                        quiet.reached, str(log))  # fmt: skip
        yield Point(case.family, case.size, result)
        if not ok:
            return


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/scaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--sizes", choices=("smallest", "all"), default="all")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated; default all")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per builder, family and size")
    parser.add_argument("--builders", default=",".join(BUILDERS), help="comma-separated; default all")
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--slipway-rev", default="HEAD", help="the slipway commit to measure (git archive)")
    parser.add_argument("--fs-image", type=Path, default=DEFAULT_IMAGE)
    args = parser.parse_args(argv)
    args.families = [f for f in args.families.split(",") if f]
    args.builders = [b for b in args.builders.split(",") if b]
    unknown = [f for f in args.families if f not in FAMILIES] + [
        b for b in args.builders if b not in BUILDERS
    ]
    if unknown:
        parser.error(f"unknown families or builders: {', '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if os.geteuid() != 0:
        print("benchmarks/scaling: run as root (loop mounts, overlayfs, dockerd)", file=sys.stderr)
        return 1
    out_dir = args.results / time.strftime("scaling-%Y%m%d-%H%M%S")
    logs = out_dir / "logs"
    logs.mkdir(parents=True)
    meta = {"kernel": platform.release(), "runs": str(args.runs), "sizes": args.sizes}
    points: list[Point] = []
    with ExitStack() as stack:
        fs = stack.enter_context(bench_filesystem(args.fs_image))
        tmpdir = fs / "tmp"
        tmpdir.mkdir()
        env = bench_env(tmpdir)
        bases = make_busybox(args.results / "cache", tmpdir)
        builders: list[Builder] = []
        for name in args.builders:
            if name == "slipway":
                builders.append(Slipway(fs / "slipway", env, REPO, args.slipway_rev))
            else:
                daemon = stack.enter_context(private_dockerd(fs / "docker", tmpdir, logs / "dockerd.log"))
                builders.append(BuildKit(daemon, env))
        for builder in builders:
            builder.prepare(bases)
        meta["slipway commit"] = next((b.commit for b in builders if isinstance(b, Slipway)), "")
        registry = stack.enter_context(running_registry(fs / "registry")).host
        scratch = fs / "archives"
        scratch.mkdir()
        for family in args.families:
            sizes = FAMILIES[family][:1] if args.sizes == "smallest" else FAMILIES[family]
            for size in sizes:
                case = MAKERS[family](fs / "cases", size)
                for run_index in range(args.runs):
                    rotated = builders[run_index % len(builders) :] + builders[: run_index % len(builders)]
                    for builder in rotated:
                        for point in measure_case(builder, case, run_index, registry, logs, scratch):
                            points.append(point)
                            _say(point)
                _save(out_dir, meta, points)
    meta["load average"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    _save(out_dir, meta, points)
    print(f"results: {out_dir / 'scaling.csv'}; chart: {chart(points, out_dir)}", file=sys.stderr)
    return 0 if all(point.result.ok for point in points) else 2


def _say(point: Point) -> None:
    result = point.result
    seconds = "failed" if result.seconds is None else f"{result.seconds:.2f}s"
    state = "ok" if result.ok else f"WRONG: {result.detail}"
    print(f"run {result.run + 1} {result.workload} {result.phase} {result.builder}: {seconds}, "
          f"{result.peak_bytes / 2**20:.0f} MiB, {state}", file=sys.stderr)  # fmt: skip


def _save(out_dir: Path, meta: dict[str, str], points: list[Point]) -> None:
    rows = [
        {"family": point.family, "size": point.size, **dataclasses.asdict(point.result)} for point in points
    ]
    (out_dir / "results.json").write_text(json.dumps({"meta": meta, "points": rows}, indent=1))
    with open(out_dir / "scaling.csv", "w", newline="") as out:
        fields = ["family", "size", *(field.name for field in dataclasses.fields(Result))]
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def medians(points: list[Point]) -> dict[tuple[str, str, str], list[tuple[int, float, int]]]:
    """(family, builder, phase) -> [(size, median seconds, median peak bytes)] over the good runs, by size."""
    grouped: dict[tuple[str, str, str, int], list[Result]] = defaultdict(list)
    for point in points:
        result = point.result
        if result.ok and result.seconds is not None:
            grouped[(point.family, result.builder, result.phase, point.size)].append(result)
    lines: dict[tuple[str, str, str], list[tuple[int, float, int]]] = defaultdict(list)
    for (family, builder, phase, size), group in sorted(grouped.items()):
        seconds = statistics.median(p.seconds for p in group if p.seconds is not None)
        peak = int(statistics.median(p.peak_bytes for p in group))
        lines[(family, builder, phase)].append((size, seconds, peak))
    return lines


def chart(points: list[Point], out_dir: Path) -> Path | None:
    """scaling.png: per family, median time (top) and peak memory (bottom) against size, both axes log."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None  # the CSV holds everything
    lines = medians(points)
    families = [family for family in FAMILIES if any(key[0] == family for key in lines)]
    if not families:
        return None
    fig, axes = plt.subplots(2, len(families), figsize=(4.5 * len(families), 8), squeeze=False)
    for column, family in enumerate(families):
        time_ax, memory_ax = axes[0][column], axes[1][column]
        for (name, builder, phase), values in lines.items():
            if name != family:
                continue
            sizes = [size for size, _, _ in values]
            style = {
                "linestyle": "-" if builder == "slipway" else "--",
                "marker": "o" if builder == "slipway" else "s",
            }
            label = f"{builder} {phase}"
            time_ax.plot(sizes, [seconds for _, seconds, _ in values], label=label, **style)
            memory_ax.plot(sizes, [peak / 2**20 for _, _, peak in values], label=label, **style)
        unit = {"context": "files", "steps": "steps", "stages": "stages", "image": "MB"}[family]
        for ax, what in ((time_ax, "median time (s)"), (memory_ax, "peak memory (MiB)")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(f"{family} ({unit})")
            ax.set_ylabel(what)
            ax.legend(fontsize="small")
        time_ax.set_title(family)
    fig.suptitle("slipway and BuildKit: cost against the size of the job (log-log)")
    fig.tight_layout()
    path = out_dir / "scaling.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
