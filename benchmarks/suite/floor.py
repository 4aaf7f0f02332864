"""The floor: what a workload's own work costs with no builder at all, measured as a fourth "builder".

Each workload's Dockerfile is small and plain (FROM, WORKDIR, RUN, COPY [--from]), so the floor carries it out
directly: a stage is an overlay of its base image's unpacked tree (unpacked once, untimed, as every builder
imports its bases before timing), each RUN is a bare `runc run` of the same command on that tree, each COPY
is `cp -a` onto the same file system, stages the target does not need are skipped and the others run in
parallel; a save is `tar` of the image's trees. What is left over a builder's time is its overhead: planning,
cache keys, snapshots per step, layer packing, metadata, its own start-up. A rebuild with nothing changed
costs the floor nothing; a one-file edit costs the copy of that file.

    python3 -m benchmarks.suite.floor build HOME TAG DOCKERFILE CONTEXT [EDITED]
    python3 -m benchmarks.suite.floor save HOME TAG OUT

The floor's result is checked as the builders' are: its RunCheck runs in the result tree (chroot).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.suite.bases import BaseImages
from benchmarks.suite.builders import Builder, run
from benchmarks.suite.workloads import Workload

_STAGE = re.compile(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE)
_COPY_FROM = re.compile(r"--from=(\S+)\s+")


@dataclass
class _Stage:
    base: str  # an image name, "scratch", or an earlier stage's name or index
    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (instruction, rest of the line)


def _parse(text: str) -> list[_Stage]:
    stages: list[_Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _STAGE.fullmatch(line)
        if match:
            stages.append(_Stage(match[1], match[2] or str(len(stages))))
            continue
        instruction, _, rest = line.partition(" ")
        stages[-1].steps.append((instruction.upper(), rest.strip()))
    return stages


def _needed(stages: list[_Stage]) -> list[_Stage]:
    """The target (last) stage and the stages it copies from, as a builder prunes a graph."""
    by_name = {stage.name: stage for stage in stages} | {str(i): stage for i, stage in enumerate(stages)}
    wanted, pending = {stages[-1].name}, [stages[-1]]
    while pending:
        stage = pending.pop()
        sources = [m[1] for _, rest in stage.steps if (m := _COPY_FROM.match(rest))]
        for source in [*sources, stage.base]:
            if source in by_name and by_name[source].name not in wanted:
                wanted.add(by_name[source].name)
                pending.append(by_name[source])
    return [stage for stage in stages if stage.name in wanted]


class Floor(Builder):
    name = "floor"

    def __init__(self, home: Path, env: dict[str, str], repo: Path) -> None:
        self.home, self.env, self.repo = home, dict(env), repo
        self.env["PYTHONPATH"] = str(repo)

    def prepare(self, bases: BaseImages) -> None:
        for base in bases.all():
            tree = self.home / "bases" / _slug(base.name)
            if not tree.exists():
                tree.mkdir(parents=True)
                run(["tar", "-x", "-C", str(tree), "-f", str(base.tarball)], self.env)
            (tree.parent / f"{_slug(base.name)}.env").write_text("\n".join(base.env))
        (self.home / "bases" / "scratch").mkdir(parents=True, exist_ok=True)
        spec = self.home / "spec"
        spec.mkdir(exist_ok=True)
        run(["runc", "spec", "-b", str(spec)], self.env, check=False)
        self.reset()

    def reset(self) -> None:
        shutil.rmtree(self.home / "results", ignore_errors=True)
        (self.home / "results").mkdir(parents=True)

    def build_argv(self, workload: Workload) -> list[str]:
        if (self.home / "results" / workload.tag / "done").exists() and workload.edit is None:
            return ["true"]  # nothing changed: the floor's rebuild does nothing (not even start Python)
        argv = [sys.executable, "-m", "benchmarks.suite.floor", "build", str(self.home), workload.tag]
        argv += [str(workload.dockerfile), str(workload.context)]
        return argv + ([str(workload.edit)] if workload.edit is not None else [])

    def save_argv(self, tag: str, out: Path) -> list[str]:
        return [sys.executable, "-m", "benchmarks.suite.floor", "save", str(self.home), tag, str(out)]

    def run_in(self, tag: str, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        result = self.home / "results" / tag
        base = (result / "base").read_text()
        with _overlay(self.home / "bases" / base, result / "upper", self.home / "check") as tree:
            return run(["chroot", str(tree), *argv], self.env, check=False)

    def layer_count(self, tag: str) -> int:
        """One layer per file COPY put in a scratch image (the parallel-stages check)."""
        return sum(1 for entry in (self.home / "results" / tag / "upper").iterdir() if entry.is_file())


def _slug(name: str) -> str:
    return name.replace(":", "_").replace("/", "_")


@contextmanager
def _overlay(lower: Path, upper: Path, where: Path) -> Iterator[Path]:
    merged, work = where / "merged", where / "work"
    for path in (merged, work, upper):
        path.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        yield merged
    finally:
        subprocess.run(["umount", str(merged)], check=True)
        shutil.rmtree(work, ignore_errors=True)


def _runc(home: Path, tree: Path, command: str, workdir: str, env: list[str], name: str) -> None:
    """One RUN: `runc run` of `sh -c command` on `tree`, the host's network (as the builders' RUN has here)."""
    spec = json.loads((home / "spec" / "config.json").read_text())
    spec["root"] = {"path": str(tree), "readonly": False}
    spec["process"].update(terminal=False, args=["/bin/sh", "-c", command], cwd=workdir or "/", env=env)
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
    bundle = home / "bundles" / name
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(spec))
    subprocess.run(
        ["runc", "run", "--bundle", str(bundle), f"floor-{name}"], check=True, stdin=subprocess.DEVNULL
    )


def _copy(source: Path, target: Path) -> None:
    """COPY: a directory's contents into the target directory, a file to the target path (or into a dir)."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", f"{source}/.", str(target)], check=True)
    else:
        if target.is_dir():
            target = target / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(source), str(target)], check=True)


def _build(home: Path, tag: str, dockerfile: Path, context: Path, edited: Path | None) -> None:
    result = home / "results" / tag
    stages = _needed(_parse(dockerfile.read_text()))
    if (result / "done").exists():
        if edited is not None:
            _copy_edited(stages[-1], edited.relative_to(context).as_posix(), edited, result / "upper")
        return  # nothing changed: a builder answers from its cache, the floor does nothing
    shutil.rmtree(result, ignore_errors=True)
    trees: dict[str, Path] = {}
    with ExitStack() as mounts:
        for stage in stages:
            base = stage.base if stage.base in trees else _slug(stage.base)
            lower = trees[base] if base in trees else home / "bases" / base
            trees[stage.name] = mounts.enter_context(
                _overlay(lower, result / stage.name / "upper", result / stage.name)
            )
        env_of = {
            stage.name: (home / "bases" / f"{_slug(stage.base)}.env").read_text().split("\n")
            if (home / "bases" / f"{_slug(stage.base)}.env").exists()
            else ["PATH=/bin"]
            for stage in stages
        }

        def carry_out(stage: _Stage) -> None:
            tree, workdir = trees[stage.name], "/"
            for index, (instruction, rest) in enumerate(stage.steps):
                if instruction == "WORKDIR":
                    workdir = os.path.join(workdir, rest)
                    (tree / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
                elif instruction == "RUN":
                    _runc(home, tree, rest, workdir, env_of[stage.name], f"{tag}-{stage.name}-{index}")
                elif instruction == "COPY":
                    source_tree, rest = context, rest
                    if match := _COPY_FROM.match(rest):
                        source_tree, rest = trees[match[1]], rest[match.end() :]
                    source, target = rest.split()
                    destination = target if target.startswith("/") else os.path.join(workdir, target)
                    _copy(source_tree / source.lstrip("/"), tree / destination.lstrip("/"))

        # Stages the target copies from first, each group in parallel (as the builders schedule them).
        *sources, target = stages
        with ThreadPoolExecutor(max_workers=max(1, len(sources))) as pool:
            list(pool.map(carry_out, sources))
        carry_out(target)
    final = stages[-1]
    (result / "upper").symlink_to(Path(final.name) / "upper")
    (result / "base").write_text(_slug(final.base))
    (result / "done").touch()


def _copy_edited(stage: _Stage, relative: str, edited: Path, upper: Path) -> None:
    """A one-file edit: the copy of that file by the COPY whose source holds it, all a builder must redo."""
    for instruction, rest in stage.steps:
        if instruction != "COPY" or _COPY_FROM.match(rest):
            continue
        source, target = rest.split()
        source = source.removeprefix("./").strip("/")
        if relative == source or relative.startswith(source + "/"):
            _copy(edited, upper / target.lstrip("/") / relative[len(source) :].lstrip("/"))


def _save(home: Path, tag: str, out: Path) -> None:
    """A docker archive's work: the base's tree and the image's own files, each as a tar, in one tar."""
    result = home / "results" / tag
    base = home / "bases" / (result / "base").read_text()
    staging = home / "save"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    subprocess.run(["tar", "-C", str(base), "-cf", str(staging / "base.tar"), "."], check=True)
    subprocess.run(
        ["tar", "-C", str(result / "upper") + "/", "-cf", str(staging / "layer.tar"), "."], check=True
    )
    (staging / "manifest.json").write_text("[]")
    subprocess.run(
        ["tar", "-C", str(staging), "-cf", str(out), "manifest.json", "base.tar", "layer.tar"], check=True
    )


def main(argv: list[str]) -> int:
    command, home, tag, *rest = argv
    if command == "build":
        dockerfile, context, *edited = rest
        _build(Path(home), tag, Path(dockerfile), Path(context), Path(edited[0]) if edited else None)
    else:
        _save(Path(home), tag, Path(rest[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
