"""A build that fails or is interrupted: what the user sees, and that nothing is left behind (no tag, no
mount, no container, no process), and the store stays usable."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

FAILING = """\
FROM busybox:test
RUN echo before-the-failure
RUN echo "last words before failing" && \\
    exit 3
RUN echo after-the-failure
"""


def assert_nothing_left(store: Any, leftovers: Any) -> None:
    assert leftovers.mounts_under(store.root) == []
    assert leftovers.runc_containers_under(store.root) == []


def test_a_failing_run_reports_the_line_the_command_and_the_exit_code(
    own_store: Any, make_context: Any, leftovers: Any, tmp_path: Path
) -> None:
    good = make_context(tmp_path / "good", "FROM busybox:test\nRUN echo good > /good.txt\n")
    own_store.build_ok(good, "-t", "failing:old")
    old_id = own_store.image_id("failing:old")
    own_store.ok("tag", "failing:old", "failing:kept")

    context = make_context(tmp_path / "bad", FAILING)
    result = own_store.build(context, "-t", "failing:new", "-t", "failing:kept")

    assert result.returncode != 0
    error = result.stderr
    assert "Traceback" not in error
    marked = [line for line in error.splitlines() if ">>>" in line]
    assert any('RUN echo "last words before failing"' in line for line in marked), error
    assert any("exit 3" in line for line in marked), "both lines of the failing RUN are marked"
    assert not any("before-the-failure" in line for line in marked)
    assert "exit code: 3" in error
    assert 'echo "last words before failing"' in error, "the command is shown"
    output_lines = [line for line in error.splitlines() if "echo" not in line]
    assert any("last words before failing" in line for line in output_lines), (
        "the output's last line is shown"
    )
    assert "after-the-failure" not in result.stdout + error.replace("RUN echo after-the-failure", "")

    rows = own_store.images()
    assert ("failing", "new") not in {(row.repository, row.tag) for row in rows}
    assert own_store("inspect", "failing:new").returncode != 0
    assert own_store.image_id("failing:kept") == old_id, "the old image keeps its tag"
    assert_nothing_left(own_store, leftovers)
    assert own_store("system", "check").returncode == 0


def test_a_failing_copy_names_the_missing_source(
    own_store: Any, make_context: Any, leftovers: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nCOPY no-such-file.txt /x\n")
    result = own_store.build(context, "-t", "failing:copy")
    assert result.returncode != 0
    assert "no-such-file.txt" in result.stderr
    assert "Dockerfile:2\n" in result.stderr and "   2 | >>> COPY no-such-file.txt /x" in result.stderr, (
        "the error shows the Dockerfile line"
    )
    assert '"/no-such-file.txt": not found' in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert own_store("inspect", "failing:copy").returncode != 0
    assert_nothing_left(own_store, leftovers)


def test_a_dockerfile_error_points_at_its_line(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo fine\nNOSUCHINSTRUCTION foo\n")
    result = own_store.build(context, "-t", "failing:syntax")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "NOSUCHINSTRUCTION" in result.stderr.upper()
    assert ":3" in result.stderr, "the error names line 3"


def test_from_an_image_that_is_not_there_is_a_clear_error(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", "FROM no-such-image:here\nRUN true\n")
    result = own_store.build(context, "-t", "failing:from")
    assert result.returncode != 0
    assert "no-such-image" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("target", ["process", "process-group"])
def test_ctrl_c_stops_the_build_and_leaves_nothing_behind(
    own_store: Any,
    make_context: Any,
    leftovers: Any,
    host_processes_cleanup: list[int],
    tmp_path: Path,
    target: str,
) -> None:
    # A unique argument identifies the container's process on the host.
    seconds = "61.5" if target == "process" else "62.5"
    context = make_context(
        tmp_path / "ctx",
        f"FROM busybox:test\nRUN echo starting-the-long-step && sleep {seconds}\nRUN echo never\n",
    )
    build = subprocess.Popen(
        own_store.argv("build", "--progress", "plain", "-t", "interrupted:latest", str(context)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a shell job in a terminal
        # A terminal's foreground job takes SIGINT by default, even if this test runs as a background job.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    host_processes_cleanup.append(build.pid)
    output = OutputReader(build)
    try:
        assert output.wait_for("starting-the-long-step", limit=120), f"the step never started:\n{output.text}"
        sleepers = wait_for(lambda: leftovers.processes_with_argument(seconds), limit=30)
        assert sleepers, f"`sleep {seconds}` never started:\n{output.text}"
        host_processes_cleanup.extend(sleepers)
        if target == "process":
            os.kill(build.pid, signal.SIGINT)
        else:
            os.killpg(build.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            build.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"slipway build did not stop within 20 s of SIGINT:\n{output.text}")
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
        output.join(timeout=10)

    assert build.returncode == 130, output.text
    assert "Traceback" not in output.text
    # The interrupted step shows as BuildKit shows it: CANCELED (StepFailed.cancelled), not as an error.
    started = re.search(r"^#(\d+) \[\d/\d\] RUN echo starting-the-long-step", output.text, re.MULTILINE)
    assert started is not None, output.text
    assert f"#{started[1]} CANCELED\n" in output.text and f"#{started[1]} ERROR" not in output.text
    assert "never" not in output.text.replace("RUN echo never", "")
    assert wait_for(lambda: not leftovers.processes_with_argument(seconds), limit=10), (
        f"sleep {seconds} is left"
    )
    assert wait_for(lambda: not leftovers.processes_in_group(build.pid), limit=10), (
        "processes of the build are left"
    )
    assert_nothing_left(own_store, leftovers)
    assert own_store("system", "check").returncode == 0
    rows = own_store.images()
    assert ("interrupted", "latest") not in {(row.repository, row.tag) for row in rows}
    # The store still builds after the interruption.
    again = make_context(tmp_path / "again", "FROM busybox:test\nRUN echo done-after-interrupt > /done.txt\n")
    own_store.build_ok(again, "-t", "interrupted:again")
    assert own_store.run_output("interrupted:again", "cat", "/done.txt") == "done-after-interrupt\n"


class OutputReader(threading.Thread):
    """Collects a process's output lines in the background, so waiting for one never blocks forever."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        super().__init__(daemon=True)
        self._process = process
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self.start()

    def run(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_for(self, text: str, limit: float) -> bool:
        """True once an output line (not the step's own RUN header) contains `text`."""
        deadline = time.monotonic() + limit
        with self._changed:
            while True:
                if any(text in line and "RUN" not in line for line in self._lines):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.is_alive():
                    return False
                self._changed.wait(timeout=min(remaining, 0.5))


def wait_for(check: Any, limit: float) -> Any:
    """Poll `check` until it returns something true (or `limit` seconds pass); return its last value."""
    deadline = time.monotonic() + limit
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(0.1)
        value = check()
    return value


def test_an_unknown_user_is_a_clear_error(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nUSER nosuchuser\nRUN true\n")
    result = own_store.build(context, "-t", "failing:user")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "nosuchuser" in result.stderr
    assert own_store("inspect", "failing:user").returncode != 0


@pytest.mark.parametrize(
    ("instruction", "cut"),
    [
        ("RUN " + "x" * 8_000_000, "more characters)"),  # an 8 MB command line
        ("RUN true \\\n" + " && true \\\n" * 200_000 + " && false", "more lines"),  # 200,000 continuations
    ],
    ids=["8-MB-line", "200000-lines"],
)
def test_a_huge_failing_run_prints_a_bounded_error(
    shared_store: Any, make_context: Any, tmp_path: Path, instruction: str, cut: str
) -> None:
    context = make_context(tmp_path / "ctx", f"FROM busybox:test\n{instruction}\n")
    result = shared_store.build(context)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stdout) + len(result.stderr) < 100_000, "the error is a screenful, not megabytes"
    assert len(result.stderr.splitlines()) < 300
    assert cut in result.stderr
