"""Fixtures of the BuildKit suite port: the base images BuildKit's tests use, in stores made once per session."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import prerequisites
from buildkit._http import RecordingServer, running_server
from buildkit._images import copy_store, make_template_store
from buildkit._sandbox import Sandbox, helpers


@pytest.fixture(scope="session")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store root with busybox:latest and alpine:latest, made once; tests get copies of it."""
    prerequisites.require_containers()
    work = tmp_path_factory.mktemp("bk-template")
    return make_template_store(helpers.slipway_argv(), work / "store", work)


@pytest.fixture(scope="session")
def shared_bk_store(template_store: Path, tmp_path_factory: pytest.TempPathFactory) -> object:
    """One store for the tests that only build and read; each test names its images uniquely."""
    return helpers.Slipway(copy_store(template_store, tmp_path_factory.mktemp("bk-shared") / "store"))


def test_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50]


@pytest.fixture
def sandbox(shared_bk_store: object, tmp_path: Path, request: pytest.FixtureRequest) -> Sandbox:
    """A test's view of the shared store (BuildKit's sandbox, whose daemon lives across its tests)."""
    return Sandbox(shared_bk_store, tmp_path, test_name(request))


@pytest.fixture
def own_sandbox(template_store: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A store of the test's own, for tests of the cache (what ran, what was reused) and of pruning."""
    store = helpers.Slipway(copy_store(template_store, tmp_path / "store"))
    yield Sandbox(store, tmp_path, test_name(request))
    for line in reversed(helpers.mounts_under(store.root)):
        subprocess.run(["umount", "--lazy", line.split()[1]], check=False, capture_output=True)


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    """BuildKit's httpserver.NewTestServer on loopback: fixed responses, every request recorded."""
    with running_server() as server:
        yield server


def registry_servers() -> ModuleType:
    """tests/interop/registry/_registry_servers.py (the suite's Distribution registry), loaded by path."""
    name = "slipway_registry_servers"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "interop" / "registry" / "_registry_servers.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loopback Distribution registry (BuildKit's sb.NewRegistry()): its host:port."""
    with registry_servers().running_registry(tmp_path_factory.mktemp("bk-registry")) as server:
        yield server.host
