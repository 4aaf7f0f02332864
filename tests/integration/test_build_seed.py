"""The seed example (examples/seed), built unchanged the way its README says: a single-stage image that
ships the Go toolchain, and a multi-stage one FROM scratch that ships only the binary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
GREETING = "Hello from a multi-stage build!"


@dataclass(frozen=True)
class SeedBuilds:
    slipway: Any  # conftest.Slipway, bound to the shared store
    work: Path


@pytest.fixture(scope="module")
def seed(shared_store: Any, golang_image: str, tmp_path_factory: pytest.TempPathFactory) -> SeedBuilds:
    shared_store.build_ok(Path("."), "-t", "frmscratch:v1", "-f", "singleStage", cwd=SEED)
    shared_store.build_ok(Path("."), "-t", "frmscratch:v2", "-f", "multiStageFromScratch", cwd=SEED)
    return SeedBuilds(shared_store, tmp_path_factory.mktemp("seed"))


def test_both_images_print_the_greeting_and_the_same_output(seed: SeedBuilds) -> None:
    v1 = seed.slipway.run_output("frmscratch:v1")
    v2 = seed.slipway.run_output("frmscratch:v2")
    assert v2.splitlines()[0] == GREETING
    assert "Steps: build -> stage -> copy -> ship" in v2
    assert v1 == v2


def test_both_images_are_listed_and_v2_is_tiny_next_to_v1(seed: SeedBuilds) -> None:
    rows = {(row.repository, row.tag): row for row in seed.slipway.images()}
    v1 = rows[("frmscratch", "v1")]
    v2 = rows[("frmscratch", "v2")]
    assert v1.image_id != v2.image_id
    assert v2.size_bytes < 5e6, v2
    # v1 carries the toolchain (tens of MB); v2 only a ~2 MB binary.
    assert v1.size_bytes > 10 * v2.size_bytes, (v1, v2)


def test_v2_has_exactly_one_layer_holding_only_the_binary(seed: SeedBuilds) -> None:
    document = seed.slipway.inspect("frmscratch:v2")
    assert len(document["RootFS"]["Layers"]) == 1, document["RootFS"]
    assert document["Config"]["Cmd"] == ["/bin/hello"]
    layers = seed.slipway.saved_layers("frmscratch:v2", seed.work)
    assert len(layers) == 1
    members = {
        member.name.rstrip("/").removeprefix("./"): member for member in seed.slipway.layer_members(layers[0])
    }
    files = {name for name, member in members.items() if not member.isdir()}
    directories = {name for name, member in members.items() if member.isdir()} - {"", "."}
    assert files == {"bin/hello"}
    assert directories <= {"bin"}
    assert members["bin/hello"].mode & 0o111, "the binary is executable"


def test_v1_keeps_the_toolchain_and_the_workdir(seed: SeedBuilds) -> None:
    config = seed.slipway.config("frmscratch:v1")
    assert config["WorkingDir"] == "/src"
    assert config["Cmd"] == ["/bin/hello"]
    assert "/usr/local/go/bin" in next(value for value in config["Env"] if value.startswith("PATH="))
    listing = seed.slipway.run_output("frmscratch:v1", "ls", "/usr/local/go/bin", "/src")
    assert "go" in listing.split()
    assert "basicExamples.go" in listing.split()
