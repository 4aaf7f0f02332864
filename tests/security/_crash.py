"""Helpers of the crash and concurrency tests: slipway started as the process a signal must reach, and what a
killed command may leave on the host (mounts, runc containers, container processes) or in the store.

The `slipway` on PATH may be a wrapper script (pyenv's shim runs Python as its child): a signal sent to the
wrapper's PID would not reach slipway, so these tests run `python -m slipway` and signal that PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import build_helpers

helpers = build_helpers.load()
describe = helpers.describe
make_context = helpers.make_context
mounts_under = helpers.mounts_under
processes_with_argument = helpers.processes_with_argument


@dataclass(frozen=True)
class DirectSlipway(helpers.Slipway):  # type: ignore[name-defined]
    """The `slipway` command of integration.conftest, run as `python -m slipway` (its own PID)."""

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "slipway", "--root", str(self.root), *args]

    def start(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        """A running slipway command, its stdout and stderr as one text stream."""
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            **kwargs,
        )


def store_with_busybox(root: Path, busybox_tar: Path) -> DirectSlipway:
    slipway = DirectSlipway(root)
    helpers.import_busybox(slipway, busybox_tar)
    return slipway


class Output(threading.Thread):
    """A process's output lines, collected in the background so waiting for one never blocks forever."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        super().__init__(daemon=True)
        self._process = process
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.start()

    def run(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_until(self, is_there: Callable[[list[str]], bool], limit: float = 120) -> bool:
        """True once `is_there(lines so far)`; False if the process ended (or `limit` passed) first."""
        deadline = time.monotonic() + limit
        with self._changed:
            while not is_there(self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.is_alive():
                    return is_there(self.lines)
                self._changed.wait(timeout=min(remaining, 0.5))
        return True


@contextmanager
def killed_at_the_end(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """The process, SIGKILLed and reaped when the block ends if it still runs (a failed test leaves nothing).
    Its pipes stay open: an Output thread may be reading them until the fixture's cleanup ends what still
    writes there (a container)."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def kill_9(process: subprocess.Popen[str]) -> None:
    """SIGKILL, then reap: a zombie still holds its PID, a reaped process is gone."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(check: Callable[[], Any], limit: float = 30) -> Any:
    """Poll `check` until it returns something true (or `limit` seconds pass); return its last value."""
    deadline = time.monotonic() + limit
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(0.1)
        value = check()
    return value


def left_on_the_host(root: Path, *process_markers: str) -> list[str]:
    """Mounts under the store root, runc containers of it, and processes with one of `process_markers` (a
    unique argument of a container's command) as argv word: what no command may leave after it ends."""
    found = [f"mount: {line}" for line in mounts_under(root)]
    found += [f"runc container: {line}" for line in helpers.runc_containers_under(root)]
    found += [
        f"process {pid} ({marker})" for marker in process_markers for pid in processes_with_argument(marker)
    ]
    return found


def assert_store_is_whole(slipway: DirectSlipway, *process_markers: str) -> None:
    """After a killed command, the next command (`images`) undoes what it left: nothing on the host, `system
    check` clean, every listed image whole (check re-hashes its blobs)."""
    listed = slipway("images")
    assert listed.returncode == 0, describe(listed)
    assert "Traceback" not in listed.stderr
    # A container the killed command started dies with the next command, but its processes take a moment to go.
    assert wait_for(lambda: not left_on_the_host(slipway.root, *process_markers), limit=20), left_on_the_host(
        slipway.root, *process_markers
    )
    checked = slipway("system", "check")
    assert checked.returncode == 0, describe(checked)
    assert not list((slipway.root / "tmp").iterdir()), "work dirs of the killed command are left"


def clean_up_after_a_failure(root: Path, *process_markers: str) -> None:
    """For a failed test only: what it asserted absent must not stay on the machine."""
    for marker in process_markers:
        for pid in processes_with_argument(marker):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for line in reversed(mounts_under(root)):
        subprocess.run(["umount", "--lazy", line.split()[1]], check=False, capture_output=True)
