"""One workload on one builder: reset, prepare, wait for quiet, time the step, check what it made."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from benchmarks.suite.builders import Builder, run
from benchmarks.suite.memory import PeakSampler, sampling
from benchmarks.suite.quiet import wait_for_quiet
from benchmarks.suite.workloads import ArchiveCheck, LayerCheck, RunCheck, Workload

T = TypeVar("T")


def in_turn(contenders: Sequence[T], run_index: int, position: int) -> list[T]:
    """The order `contenders` (builders, tools, cache ways) go in for the workload at `position` of run
    `run_index`: rotated by both, so none always goes first (a single run included) or follows the same one."""
    turn = (run_index + position) % len(contenders)
    return [*contenders[turn:], *contenders[:turn]]


@dataclass(frozen=True, slots=True)
class Result:
    workload: str
    phase: str  # cold, warm, or "" for a workload that is itself a rebuild or a save
    builder: str
    run: int
    seconds: float | None  # None when the step failed
    peak_bytes: int
    ok: bool
    detail: str
    quiet: bool
    log: str
    image_bytes: int | None = None  # the built image's size as the builder reports it (docker images' SIZE)

    @property
    def row(self) -> str:
        return f"{self.workload} ({self.phase})" if self.phase else self.workload


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float
    returncode: int
    peak_bytes: int


def timed(builder: Builder, argv: list[str], log: Path) -> Timed:
    """Run argv with its output to `log`; wall time and the peak RSS of the builder's process trees."""
    sampler = PeakSampler(baseline=builder.memory_baseline())
    with open(log, "ab") as out, sampling(sampler):
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        start = time.perf_counter()
        with subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=builder.env) as process:
            sampler.roots = builder.memory_roots(process.pid)
            try:
                # wait4 also gives the largest single RSS in the tree, which catches a process too short to sample.
                _, status, usage = os.wait4(process.pid, 0)
            except BaseException:
                process.kill()  # Ctrl-C: our child goes with us
                raise
            process.returncode = returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
    own_peak = usage.ru_maxrss * 1024 if process.pid in sampler.roots else 0
    return Timed(seconds, returncode, max(sampler.peak_delta, own_peak))


def _check(builder: Builder, workload: Workload, archive: Path) -> tuple[bool, str]:
    check = workload.check
    if isinstance(check, RunCheck):
        done = builder.run_in(workload.tag, check.argv)
        got = done.stdout.strip()
        ok = done.returncode == 0 and (check.expected in got if check.contains else got == check.expected)
        return (
            ok,
            ""
            if ok
            else f"ran {list(check.argv)}: exit {done.returncode}, got {(got + done.stderr)[-300:]!r}",
        )
    if isinstance(check, LayerCheck):
        layers = builder.layer_count(workload.tag)
        return layers == check.layers, f"{layers} layers" if layers != check.layers else ""
    if isinstance(check, ArchiveCheck):
        size = archive.stat().st_size if archive.exists() else 0
        names = run(["tar", "-tf", str(archive)], builder.env, check=False).stdout.split() if size else []
        ok = size >= check.min_bytes and "manifest.json" in names
        return (
            ok,
            ""
            if ok
            else f"archive of {size} bytes, manifest.json {'in' if 'manifest.json' in names else 'not in'} it",
        )
    raise TypeError(check)


def measure(builder: Builder, workload: Workload, run_index: int, logs: Path, scratch: Path) -> list[Result]:
    """Measure `workload` on `builder` once: the cold step, and the warm one if the workload has it."""
    log = logs / f"{workload.name}.{builder.name}.run{run_index}.log"
    results: list[Result] = []
    archive = scratch / f"{workload.tag}.{builder.name}.tar"
    original: bytes | None = None
    if workload.cold:
        builder.reset()
    if workload.prebuild:
        prep = timed(builder, builder.build_argv(workload), log)
        if prep.returncode != 0:
            return [Result(workload.name, "", builder.name, run_index, None, 0, False, "preparing build failed",
                           True, str(log))]  # fmt: skip
    try:
        if workload.edit is not None:
            stat = workload.edit.stat()
            original = workload.edit.read_bytes()
            workload.edit.write_text(f"edited in run {run_index} for {builder.name}\n")
        phases = ("cold", "warm") if workload.warm else ("",)
        for phase in phases:
            quiet = wait_for_quiet()
            argv = builder.save_argv(workload.tag, archive) if workload.save else builder.build_argv(workload)
            step = timed(builder, argv, log)
            if step.returncode != 0:
                ok, detail = False, f"exit {step.returncode}"
            else:
                ok, detail = _check(builder, workload, archive)
            archive.unlink(missing_ok=True)
            seconds = step.seconds if step.returncode == 0 else None
            image_bytes = builder.image_size(workload.tag) if ok and not workload.save else None
            results.append(Result(workload.name, phase, builder.name, run_index, seconds, step.peak_bytes, ok,
                                  detail, quiet.reached, str(log), image_bytes))  # fmt: skip
    finally:
        if workload.edit is not None and original is not None:
            workload.edit.write_bytes(original)
            os.utime(workload.edit, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return results
