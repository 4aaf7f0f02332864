"""BuildKit's parser vectors: `slipway debug ast` dumps each Dockerfile as BuildKit's Node.Dump() does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from slipway.cli import cli


def _cases(conformance_dir: Path, kind: str) -> list[Path]:
    cases = sorted(path for path in (conformance_dir / "buildkit-parser" / kind).iterdir() if path.is_dir())
    assert cases, f"no {kind} cases under {conformance_dir}"
    return cases


def test_every_testfile_dumps_to_its_result(conformance_dir: Path) -> None:
    runner = CliRunner()
    mismatches = []
    for case in _cases(conformance_dir, "testfiles"):
        result = runner.invoke(cli, ["debug", "ast", str(case / "Dockerfile")])
        expected = (case / "result").read_text(encoding="utf-8")
        if result.exit_code != 0 or result.stdout != expected:
            mismatches.append(f"{case.name}: exit {result.exit_code}\n{result.output}\nexpected:\n{expected}")
    assert not mismatches, "\n\n".join(mismatches)


def test_every_negative_testfile_fails_naming_the_file_and_a_line(conformance_dir: Path) -> None:
    for case in _cases(conformance_dir, "testfiles-negative"):
        dockerfile = case / "Dockerfile"
        # The real entry point: main() prints the error and sets the exit code.
        completed = subprocess.run(
            [sys.executable, "-m", "slipway", "debug", "ast", str(dockerfile)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert completed.returncode == 1, f"{case.name}: {completed.stdout}{completed.stderr}"
        assert completed.stdout == "", case.name
        assert re.match(rf"error: {re.escape(str(dockerfile))}:\d+(-\d+)?: \S", completed.stderr), (
            completed.stderr
        )
