#!/usr/bin/env python3
"""Layer writing speed: slipway's pack_layer (gzip) against `tar -c | gzip` and `tar -c | pigz` on one tree.

    benchmarks/layer_write.py [--size-mb 1024] [--dir D] [--runs 3]

Generates a deterministic tree of about --size-mb (half in many small text-like files, half in a few large
incompressible ones), then times each writer --runs times, alternating, after one warm-up round that fills the
page cache. Output goes to /dev/null, so this measures reading, tarring, hashing and compressing, not the disk.
pack_layer runs in a child process each time, which reports its own time and peak memory (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL_SHARE = 0.5
SMALL_FILE_RANGE = (200, 64 * 1024)
LARGE_FILE_RANGE = (8 << 20, 64 << 20)
FILES_PER_DIR = 200
WORDS = (
    "func",
    "return",
    "if",
    "else",
    "for",
    "range",
    "struct",
    "type",
    "package",
    "import",
    "var",
    "const",
    "int",
    "string",
    "error",
    "nil",
    "true",
    "false",
    "map",
    "chan",
    "go",
    "defer",
    "select",
    "case",
    "switch",
    "default",
    "break",
    "continue",
    "interface",
    "byte",
    "rune",
    "uint64",
    "float64",
    "append",
    "len",
    "make",
    "new",
    "copy",
    "delete",
    "panic",
    "recover",
    "fmt",
    "Println",
    "Errorf",
    "context",
    "ctx",
    "err",
    "value",
    "key",
    "index",
)

CHILD = """
import json, os, sys, time
from pathlib import Path
from slipway.image.layers import pack_layer
start = time.perf_counter()
with open(sys.argv[2], "wb") as out:
    info = pack_layer(Path(sys.argv[1]), out, compression="gzip")
elapsed = time.perf_counter() - start
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "peak_kib": peak_kib, "tar_bytes": info.uncompressed_size,
                  "blob_bytes": info.descriptor.size}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to build the tree (default: a temp dir)"
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for tool in ("tar", "gzip", "pigz"):
        if shutil.which(tool) is None:
            print(f"layer_write: {tool} is not installed (scripts/setup installs it)", file=sys.stderr)
            return 1
    base = Path(tempfile.mkdtemp(prefix="slipway-bench-", dir=args.dir))
    try:
        tree = base / "tree"
        files, total = generate_tree(tree, args.size_mb << 20)
        print(f"tree: {files} files, {total / 1e6:.0f} MB in {tree}")
        writers = {
            "slipway pack_layer": lambda output: run_slipway(tree, output),
            "tar | gzip": lambda output: run_pipeline(tree, ["gzip", "-c"], output),
            "tar | pigz": lambda output: run_pipeline(tree, ["pigz", "-c"], output),
        }
        blob_sizes = {}
        for name, run in writers.items():  # warm-up (page cache, imports), writing files to compare sizes
            output = base / "warm-up.out"
            run(output)
            blob_sizes[name] = output.stat().st_size
            output.unlink()
        times: dict[str, list[float]] = {name: [] for name in writers}
        peaks: list[int] = []
        sizes: dict[str, int] = {}
        for _ in range(args.runs):
            for name, run in writers.items():
                seconds, extra = run(Path(os.devnull))
                times[name].append(seconds)
                if name.startswith("slipway"):
                    peaks.append(extra["peak_kib"])
                    sizes["tar"] = extra["tar_bytes"]
                    sizes["blob"] = extra["blob_bytes"]
        report(times, peaks, sizes, blob_sizes, total, os.cpu_count() or 1)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def generate_tree(root: Path, size: int) -> tuple[int, int]:
    rng = random.Random(20240601)
    text = " ".join(
        rng.choice(WORDS) + ("\n" if rng.random() < 0.1 else "") for _ in range(1_500_000)
    ).encode()
    files = total = 0
    small_budget = int(size * SMALL_SHARE)
    while total < small_budget:
        directory = root / f"src{files // (FILES_PER_DIR * 10):03d}" / f"pkg{files // FILES_PER_DIR:05d}"
        directory.mkdir(parents=True, exist_ok=True)
        length = rng.randint(*SMALL_FILE_RANGE)
        offset = rng.randrange(0, len(text) - length)
        (directory / f"file{files:06d}.go").write_bytes(text[offset : offset + length])
        files += 1
        total += length
    blobs = root / "blobs"
    blobs.mkdir()
    while total < size:
        length = min(rng.randint(*LARGE_FILE_RANGE), max(size - total, 1 << 20))
        with open(blobs / f"data{files:06d}.bin", "wb") as out:
            remaining = length
            while remaining:
                chunk = min(remaining, 4 << 20)
                out.write(rng.randbytes(chunk))
                remaining -= chunk
        files += 1
        total += length
    return files, total


def run_slipway(tree: Path, output: Path) -> tuple[float, dict[str, int]]:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(output)], capture_output=True, text=True, check=True
    )
    result = json.loads(completed.stdout)
    return float(result["seconds"]), result


def run_pipeline(tree: Path, compressor: list[str], output: Path) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    with open(output, "wb") as sink:
        tar = subprocess.Popen(
            ["tar", "--sort=name", "--numeric-owner", "-cf", "-", "-C", str(tree), "."],
            stdout=subprocess.PIPE,
        )
        assert tar.stdout is not None
        try:
            subprocess.run(compressor, stdin=tar.stdout, stdout=sink, check=True)
        finally:
            tar.stdout.close()
            tar.wait()
    if tar.returncode != 0:
        raise RuntimeError(f"tar exited {tar.returncode}")
    return time.perf_counter() - start, {}


def report(
    times: dict[str, list[float]],
    peaks: list[int],
    sizes: dict[str, int],
    blob_sizes: dict[str, int],
    total: int,
    cpus: int,
) -> None:
    print(f"{cpus} CPUs; median of {len(next(iter(times.values())))} runs; MB/s of tree data (10^6 bytes)")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in medians.items():
        runs = ", ".join(f"{value:.2f}" for value in times[name])
        print(f"  {name:20s} {total / seconds / 1e6:8.1f} MB/s   median {seconds:.2f} s   runs [{runs}]")
    ours = medians["slipway pack_layer"]
    for name in ("tar | gzip", "tar | pigz"):
        print(f"  slipway vs {name:11s} {medians[name] / ours:5.2f}x faster")
    print(f"  slipway peak memory (VmHWM): {max(peaks) / 1024:.1f} MiB")
    print(f"  compressed sizes from a {sizes['tar'] / 1e6:.1f} MB tar:")
    for name, size in blob_sizes.items():
        print(f"    {name:20s} {size / 1e6:8.1f} MB (ratio {size / sizes['tar']:.3f})")


if __name__ == "__main__":
    sys.exit(main())
