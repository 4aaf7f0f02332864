"""The workloads: contexts and Dockerfiles generated deterministically, and what a correct result looks like."""

from __future__ import annotations

import dataclasses
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

BIG_LAYER_BYTES = 300 * 1024 * 1024
MANY_DIRS, FILES_PER_DIR = 100, 200  # 20,000 files
CTX_FILE_SIZES = (1024, 9216)  # ~5 KiB on average: ~100 MB in all
SEED_GREETING = "Hello from a multi-stage build!"
CHAIN_STEPS = 50
HASH_ROUNDS = 8  # sha256sum over 64 MiB this many times: about 2 s of one core with busybox
EDITED_FILE = "data/d050/f0100"


@dataclass(frozen=True, slots=True)
class RunCheck:
    """Run argv in the built image; its stdout, stripped, must equal (or with `contains`, hold) `expected`."""

    argv: tuple[str, ...]
    expected: str
    contains: bool = False


@dataclass(frozen=True, slots=True)
class LayerCheck:
    layers: int


@dataclass(frozen=True, slots=True)
class ArchiveCheck:
    min_bytes: int


Check = RunCheck | LayerCheck | ArchiveCheck


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    tag: str
    context: Path
    dockerfile: Path
    check: Check
    cold: bool = True  # empty the builder's cache first (base images kept)
    warm: bool = True  # then time the same build again at once
    prebuild: bool = (
        False  # build (untimed) before the timed step, e.g. the image a rebuild or save starts from
    )
    edit: Path | None = None  # a context file whose content changes just before the timed build
    save: bool = False  # the timed step saves `tag` as a docker archive instead of building


# The context workloads run again with their context on another file system than the stores' (as a CI
# workspace and /var/lib often are): no reflink or in-file-system copy, every byte crosses file systems. Once
# on a tmpfs (no disk under the context) and once on a second loop-mounted ext4 (a disk of its own).
ELSEWHERE = ("seed", "ctx-many-files", "small-edit")
ELSEWHERE_SUFFIXES = ("-tmpfs", "-loopfs")
_MOVED = tuple(name + suffix for suffix in ELSEWHERE_SUFFIXES for name in ELSEWHERE)
# The order they run in: each rebuild or save follows the workload that leaves its starting image behind.
ORDER = (
    "seed", "cached-noop", "ctx-many-files", "small-edit", "run-big-layer", "export",
    "parallel-stages", "unused-stages", "deep-chain", *_MOVED,
)  # fmt: skip
# The order of the brief, for the table.
TABLE_ORDER = (
    "seed", "ctx-many-files", "run-big-layer", "parallel-stages", "unused-stages", "deep-chain",
    "cached-noop", "small-edit", "export", *_MOVED,
)  # fmt: skip


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _seed(repo: Path, base: Path) -> tuple[Path, Path]:
    context = base / "seed"
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo / "examples" / "seed" / "basicExamples.go", context / "basicExamples.go")
    lines = (repo / "examples" / "seed" / "multiStageFromScratch").read_text().splitlines(keepends=True)
    # `# syntax=` makes BuildKit fetch a frontend image from Docker Hub, which is out of reach here.
    kept = [line for line in lines if not line.lower().startswith("# syntax=")]
    return context, _write(context / "Dockerfile", "".join(kept))


def _many_files(base: Path) -> tuple[Path, Path, int, int]:
    context = base / "ctx-many-files"
    rng = random.Random(20000)
    count = total = 0
    for d in range(1, MANY_DIRS + 1):
        directory = context / "data" / f"d{d:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        for f in range(1, FILES_PER_DIR + 1):
            data = rng.randbytes(rng.randint(*CTX_FILE_SIZES))
            (directory / f"f{f:04d}").write_bytes(data)
            count += 1
            total += len(data)
    dockerfile = _write(context / "Dockerfile", "FROM busybox:static\nCOPY data /data\n")
    return context, dockerfile, count, total


def _big_layer(base: Path) -> tuple[Path, Path]:
    context = base / "run-big-layer"
    dockerfile = _write(
        context / "Dockerfile",
        "FROM golang:1.24\n"
        f"RUN head -c {BIG_LAYER_BYTES} /dev/urandom > /big && "
        f"for d in $(seq 1 {MANY_DIRS}); do mkdir -p /many/$d; "
        f'for f in $(seq 1 {FILES_PER_DIR}); do echo "$d/$f" > /many/$d/$f; done; done\n',
    )
    return context, dockerfile


def _parallel(base: Path) -> tuple[Path, Path]:
    context = base / "parallel-stages"
    stages = []
    for n in range(1, 5):
        # The stage name is in the command, so no builder can share one stage's result with another.
        stages.append(
            f"FROM busybox:static AS s{n}\n"
            f"RUN echo s{n} > /data && head -c 67108864 /dev/zero >> /data && "
            f"for i in $(seq 1 {HASH_ROUNDS}); do sha256sum /data; done > /out && rm /data\n"
        )
    final = "FROM scratch\n" + "".join(f"COPY --from=s{n} /out /s{n}\n" for n in range(1, 5))
    return context, _write(context / "Dockerfile", "".join(stages) + final)


def _unused(base: Path) -> tuple[Path, Path]:
    context = base / "unused-stages"
    text = (
        "FROM busybox:static AS needed\nRUN echo needed > /needed\n"
        "FROM busybox:static AS unused1\nRUN sleep 5 && echo one > /one\n"
        "FROM busybox:static AS unused2\nRUN sleep 5 && echo two > /two\n"
        "FROM busybox:static AS target\nCOPY --from=needed /needed /needed\n"
    )
    return context, _write(context / "Dockerfile", text)


def _deep_chain(base: Path) -> tuple[Path, Path]:
    context = base / "deep-chain"
    steps = ["FROM busybox:static", "RUN mkdir /chain && echo 1 > /chain/run-01"]
    for i in range(2, CHAIN_STEPS + 1):
        if i % 2 == 0:
            _write(context / f"f{i:02d}", f"file {i}\n")
            steps.append(f"COPY f{i:02d} /chain/copy-{i:02d}")
        else:
            steps.append(f"RUN echo {i} > /chain/run-{i:02d}")
    return context, _write(context / "Dockerfile", "\n".join(steps) + "\n")


def make_workloads(repo: Path, base: Path, elsewhere: dict[str, Path]) -> dict[str, Workload]:
    """Generate every workload's context under `base` (the benchmark file system), and the ELSEWHERE ones'
    again under each of `elsewhere`'s directories (other file systems, keyed by ELSEWHERE_SUFFIXES), and
    describe them."""
    workloads = make_local_workloads(repo, base)
    for suffix, other in elsewhere.items():
        # The same generators, so the same files (their random content is seeded).
        _seed(repo, other)
        _many_files(other)
        for name in ELSEWHERE:
            moved = _moved(workloads[name], base, other, suffix)
            workloads[moved.name] = moved
    return workloads


def _moved(workload: Workload, base: Path, elsewhere: Path, suffix: str) -> Workload:
    """`workload` with its context (Dockerfile and edited file too) under `elsewhere`, under its own name and
    tag (a builder's cache of the original must not answer for it)."""

    def rebased(path: Path) -> Path:
        return elsewhere / path.relative_to(base)

    return dataclasses.replace(
        workload,
        name=workload.name + suffix,
        tag=workload.tag + suffix,
        context=rebased(workload.context),
        dockerfile=rebased(workload.dockerfile),
        edit=rebased(workload.edit) if workload.edit is not None else None,
    )


def make_local_workloads(repo: Path, base: Path) -> dict[str, Workload]:
    """Every workload with its context under `base`: no copies on another file system."""
    seed_ctx, seed_df = _seed(repo, base)
    many_ctx, many_df, many_count, many_bytes = _many_files(base)
    big_ctx, big_df = _big_layer(base)
    par_ctx, par_df = _parallel(base)
    unused_ctx, unused_df = _unused(base)
    chain_ctx, chain_df = _deep_chain(base)
    greeting = RunCheck(("/bin/hello",), SEED_GREETING, contains=True)
    count_files = ("sh", "-c", "find /data -type f | wc -l; find /data -type f -exec cat {} + | wc -c")
    big_check = ("sh", "-c", "wc -c < /big; find /many -type f | wc -l")
    workloads = (
        Workload("seed", "bench-seed", seed_ctx, seed_df, greeting),
        Workload(
            "ctx-many-files",
            "bench-ctx",
            many_ctx,
            many_df,
            RunCheck(count_files, f"{many_count}\n{many_bytes}"),
        ),
        Workload(
            "run-big-layer", "bench-big", big_ctx, big_df, RunCheck(big_check, f"{BIG_LAYER_BYTES}\n20000")
        ),
        Workload("parallel-stages", "bench-parallel", par_ctx, par_df, LayerCheck(4)),
        Workload(
            "unused-stages", "bench-unused", unused_ctx, unused_df, RunCheck(("cat", "/needed"), "needed")
        ),
        Workload(
            "deep-chain",
            "bench-chain",
            chain_ctx,
            chain_df,
            RunCheck(("sh", "-c", "ls /chain | wc -l"), "50"),
        ),
        Workload(
            "cached-noop", "bench-seed", seed_ctx, seed_df, greeting, cold=False, warm=False, prebuild=True
        ),
        Workload(
            "small-edit",
            "bench-ctx",
            many_ctx,
            many_df,
            RunCheck(("cat", "/" + EDITED_FILE), "edited", contains=True),
            cold=False,
            warm=False,
            prebuild=True,
            edit=many_ctx / EDITED_FILE,
        ),  # fmt: skip
        Workload(
            "export",
            "bench-big",
            big_ctx,
            big_df,
            ArchiveCheck(BIG_LAYER_BYTES),
            cold=False,
            warm=False,
            prebuild=True,
            save=True,
        ),  # fmt: skip
    )
    return {w.name: w for w in workloads}
