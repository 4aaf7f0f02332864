"""Shared fixtures. Tests marked `root` need root, overlayfs and runc: CI runs them as root, for real; elsewhere
a machine without them skips those tests with the reason (tests/prerequisites.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import prerequisites

CONFORMANCE = Path(__file__).resolve().parent / "conformance" / "data"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked `root` on a machine that cannot mount or run containers: skipped, or an error in CI."""
    if item.get_closest_marker("root") is not None:
        prerequisites.require_containers()


@pytest.fixture
def conformance_dir() -> Path:
    """BuildKit's parser and shell vectors, copied into the repository with BuildKit's license."""
    return CONFORMANCE


@pytest.fixture(scope="session", autouse=True)
def no_pulls_from_the_internet() -> Iterator[None]:
    """SLIPWAY_PULL_POLICY=never for every slipway the tests start (they inherit os.environ).

    A FROM image missing from a test's store would otherwise be pulled from Docker Hub: slow, flaky, and
    against the rule that tests use loopback only. Tests of pulling set `missing` against the loopback registry.
    """
    previous = os.environ.get("SLIPWAY_PULL_POLICY")
    os.environ["SLIPWAY_PULL_POLICY"] = "never"
    yield
    if previous is None:
        os.environ.pop("SLIPWAY_PULL_POLICY", None)
    else:
        os.environ["SLIPWAY_PULL_POLICY"] = previous
