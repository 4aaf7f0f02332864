"""Which process owns a temp dir or an active snapshot, and whether it still runs.

An owner is "<pid>-<start time>": the start time (from /proc/<pid>/stat) tells a live process from a later
one that got the same pid.
"""

from __future__ import annotations

import os


def process_start_time(pid: int) -> int | None:
    """The start time of a running process `pid`; None if there is none (or only its zombie: a killed
    process whose parent has not reaped it yet has run its last cleanup)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields 3 (state) and 22; the command name (field 2) may hold spaces and parentheses, so count after
    # the last ')'.
    fields = text[text.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def current_owner() -> str:
    pid = os.getpid()
    return f"{pid}-{process_start_time(pid)}"


def parse_owner(text: str) -> tuple[int, int] | None:
    """(pid, start time) from the start of `text` ("123-4567" or "123-4567-suffix"); None if not an owner."""
    # Split, not a regular expression: the build memo checks owners on the no-op rebuild's path, where
    # compiling a pattern at import would cost a share of its time.
    parts = text.split("-", 2)
    if len(parts) < 2 or not (parts[0].isascii() and parts[0].isdigit()):
        return None
    if not (parts[1].isascii() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])


def is_alive(owner: str) -> bool:
    parsed = parse_owner(owner)
    if parsed is None:
        return False
    pid, start_time = parsed
    return process_start_time(pid) == start_time
