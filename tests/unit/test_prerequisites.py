"""A machine without root, runc or overlayfs: the tests marked `root` are skipped with the reason, and in CI
they are errors (tests/prerequisites.py). Run as a user of this suite would: pytest on a test marked `root`,
with tests/conftest.py's hook, on a machine that reports the prerequisite missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
REASON = "needs root (overlayfs mounts and runc containers): run the tests as root"

CONFTEST = f"""
import importlib.util

import prerequisites

prerequisites.container_problem = lambda: {REASON!r}  # this machine, as a user's without root
spec = importlib.util.spec_from_file_location("suite_conftest", {str(TESTS / "conftest.py")!r})
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)
pytest_runtest_setup = suite.pytest_runtest_setup
"""

TESTS_FILE = """
import pytest

@pytest.mark.root
def test_needs_containers():
    pass

def test_needs_nothing():
    pass
"""


def run_pytest(directory: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (directory / "conftest.py").write_text(CONFTEST)
    (directory / "test_sample.py").write_text(TESTS_FILE)
    (directory / "pytest.ini").write_text("[pytest]\nmarkers =\n    root: needs root\n")
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    if ci is not None:
        env["CI"] = ci
    argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(directory)]
    return subprocess.run(argv, cwd=directory, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_a_missing_prerequisite_is_a_skip_with_its_reason(tmp_path: Path, ci: str | None) -> None:
    result = run_pytest(tmp_path, ci)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert re.search(rf"^SKIPPED \[1\] \S+: {re.escape(REASON)}$", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.parametrize("ci", ["true"])
def test_in_ci_a_missing_prerequisite_is_an_error(tmp_path: Path, ci: str) -> None:
    result = run_pytest(tmp_path, ci)
    assert result.returncode != 0
    assert "1 passed, 1 error" in result.stdout
    assert REASON in result.stdout
    assert "skipped" not in result.stdout
