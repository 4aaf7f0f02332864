"""Fixtures of the registry tests: a Distribution registry per session, a recording/faulting proxy, stores."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _registry_servers import REGISTRY_BINARY, Proxy, Registry, running_proxy, running_registry

import prerequisites
from slipway.registry import RegistryOptions, RetryPolicy
from slipway.store import Store


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    prerequisites.require_file(Path(REGISTRY_BINARY), "docker-registry")
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture
def proxy(registry: Registry) -> Iterator[Proxy]:
    with running_proxy(registry.host) as server:
        yield server


@pytest.fixture
def options(tmp_path: Path) -> RegistryOptions:
    # Short backoff: the faults tests retry a lot, and the delays' length is not what they check.
    return RegistryOptions(docker_config=tmp_path / "docker-config", retry=RetryPolicy(backoff=0.05))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "root") as opened:
        yield opened


@pytest.fixture
def repository(request: pytest.FixtureRequest) -> str:
    """A repository path of this test's own: tests never see each other's blobs or tags."""
    return "tests/" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
