"""Wait until the machine is quiet: a second of low CPU use and every disk under 5% busy."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CPU_BUSY_LIMIT = 0.20  # of all cores together
DISK_BUSY_LIMIT = 0.05
WINDOW_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Quiet:
    reached: bool
    waited: float
    cpu_busy: float
    disk_busy: float


def _cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]), idle


def _disk_ticks() -> dict[str, int]:
    ticks: dict[str, int] = {}
    for line in Path("/proc/diskstats").read_text().splitlines():
        parts = line.split()
        name = parts[2]
        # Whole devices only (partitions would count their disk twice); ram disks never wait.
        if not Path("/sys/block", name).exists() or name.startswith(("ram", "zram")):
            continue
        ticks[name] = int(parts[12])  # milliseconds spent doing I/O
    return ticks


def _window() -> tuple[float, float]:
    cpu0, disk0, t0 = _cpu_times(), _disk_ticks(), time.monotonic()
    time.sleep(WINDOW_SECONDS)
    cpu1, disk1, t1 = _cpu_times(), _disk_ticks(), time.monotonic()
    total, idle = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    cpu_busy = 1.0 - idle / total if total else 0.0
    elapsed_ms = (t1 - t0) * 1000
    disk_busy = max(((disk1[d] - disk0.get(d, disk1[d])) / elapsed_ms for d in disk1), default=0.0)
    return cpu_busy, disk_busy


def wait_for_quiet(timeout: float = 30.0) -> Quiet:
    """Flush dirty pages, then wait for one quiet window (or give up after `timeout` seconds and say so)."""
    start = time.monotonic()
    os.sync()  # a previous build's write-back must not land in the next timed run
    cpu_busy = disk_busy = 1.0
    while time.monotonic() - start < timeout:
        cpu_busy, disk_busy = _window()
        if cpu_busy < CPU_BUSY_LIMIT and disk_busy < DISK_BUSY_LIMIT:
            return Quiet(True, time.monotonic() - start, cpu_busy, disk_busy)
    return Quiet(False, time.monotonic() - start, cpu_busy, disk_busy)
