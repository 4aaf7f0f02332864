"""Processes a container leaves behind when it shares slipway's PID namespace (SLIPWAY_PROCESS_SANDBOX=off).

With a PID namespace of its own, a container's processes all end with its first one: the kernel kills them.
Without one, a RUN's background process outlives the step, and keeps it from ending while it holds the
output that the runtime copies to us. The runtime (runc) is the subreaper of the container's processes: once
the container's first process is gone, every other child of the runtime is such a straggler, and is killed
as the namespace would have killed it (its own children, orphaned, come to the runtime in turn).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

__all__ = ["kill_stragglers"]

PROC = Path("/proc")


def kill_stragglers(runtime_pid: int, pid_file: Path) -> int:
    """If the container's first process (whose pid the runtime wrote to `pid_file`) has ended, SIGKILL the
    runtime's other children; how many."""
    init_pid = _init_pid(pid_file)
    if init_pid is None or _parent(init_pid) == runtime_pid:
        return 0  # not started yet, or still running: its children are its own business
    killed = 0
    for entry in PROC.iterdir():
        if entry.name.isdigit() and _parent(int(entry.name)) == runtime_pid:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed += 1
    return killed


def _init_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def _parent(pid: int) -> int | None:
    """The parent of live process `pid` (None if it is gone or a zombie)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after its last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 2 or fields[0] == "Z":
        return None
    return int(fields[1])
