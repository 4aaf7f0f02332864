"""The fleet simulation (benchmarks/fleet) with 2 rootless builders and one loopback registry cache: which steps
each build ran or found cached, and which blobs it fetched (counts and digests from the registry's access log;
never the times).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import prerequisites
from loopback_registry import REGISTRY_BINARY

pytestmark = [pytest.mark.interop, pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]
STEPS = (
    "COPY lib.txt /src/lib.txt",
    "RUN head -c 4000000 /dev/urandom > /toolchain.bin",
    "RUN cat /src/lib.txt > /lib.out",
    "COPY main.txt /src/main.txt",
    "RUN cat /lib.out /src/main.txt > /app.out",
    "COPY config.txt /app/config.txt",
    "COPY --from=build /app.out /app/app.out",
)
# main.txt changed: the steps that read it, and the one that copies what they made. Not COPY config.txt (the
# final stage's step before the COPY --from), not the build stage's steps before COPY main.txt.
RERUN = {"COPY main.txt /src/main.txt", "RUN cat /lib.out /src/main.txt > /app.out", STEPS[-1]}
BUILD_STEPS_BEFORE_THE_CHANGE = 3


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    prerequisites.require_file(Path(REGISTRY_BINARY), "docker-registry")
    prerequisites.require_tool("newuidmap", "uidmap")
    path = tmp_path_factory.mktemp("fleet") / "report.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.fleet", "--builders", "2", "--report", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def the_build(report: dict[str, Any], phase: str, builder: int) -> dict[str, Any]:
    [found] = [entry for entry in report["builds"] if (entry["phase"], entry["builder"]) == (phase, builder)]
    return found


def layers_fetched(report: dict[str, Any], entry: dict[str, Any]) -> set[str]:
    return set(entry["blobs_fetched"]) & set(report["cache_layers"] + report["base_layers"])


def test_the_first_cold_builder_runs_every_step_and_fetches_only_the_base(report: dict[str, Any]) -> None:
    first = the_build(report, "cold", 1)
    assert first["steps"] == dict.fromkeys(STEPS, "DONE")
    assert layers_fetched(report, first) == set(report["base_layers"])


def test_a_cold_builder_finds_every_step_cached_and_fetches_only_the_images_layers(
    report: dict[str, Any],
) -> None:
    second = the_build(report, "cold", 2)
    assert second["steps"] == dict.fromkeys(STEPS, "CACHED")
    # Everything the image is made of, and none of the build stage's layers (the toolchain among them).
    assert layers_fetched(report, second) == set(report["image_layers"])
    assert len(set(report["cache_layers"]) - set(report["image_layers"])) == 5  # the build stage's 5 steps
    assert second["image_id"] == the_build(report, "cold", 1)["image_id"]


@pytest.mark.parametrize("builder", [1, 2])
def test_a_one_file_change_reruns_exactly_the_steps_after_it_on_every_builder(
    report: dict[str, Any], builder: int
) -> None:
    changed = the_build(report, "change", builder)
    assert {step for step, outcome in changed["steps"].items() if outcome == "DONE"} == RERUN
    assert {step for step, outcome in changed["steps"].items() if outcome == "CACHED"} == set(STEPS) - RERUN


def test_after_the_change_a_builder_fetches_only_the_build_stage_layers_it_lacks(
    report: dict[str, Any],
) -> None:
    build_stage_only = set(report["cache_layers"]) - set(report["image_layers"])
    # Builder 1 made them; builder 2 had only the image's layers, and now needs the three below the change.
    assert layers_fetched(report, the_build(report, "change", 1)) == set()
    fetched = layers_fetched(report, the_build(report, "change", 2))
    assert fetched < build_stage_only and len(fetched) == BUILD_STEPS_BEFORE_THE_CHANGE
    changed_ids = {the_build(report, "change", builder)["image_id"] for builder in (1, 2)}
    assert len(changed_ids) == 1 and changed_ids != {the_build(report, "cold", 1)["image_id"]}
