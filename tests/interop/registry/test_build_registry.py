"""`slipway build` with a real registry on 127.0.0.1: FROM images pulled by policy, --push, and the build
cache exported to and imported from a registry (and an OCI layout directory) across two stores.

The build helpers (busybox base image, the `slipway` command bound to a root) come from
tests/integration/conftest.py, loaded under a name of its own as tests/interop/test_build_vs_buildkit.py does.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from _registry_servers import Registry, free_port, skopeo_inspect

pytestmark = [pytest.mark.interop, pytest.mark.root]


def _load_build_helpers() -> Any:
    path = Path(__file__).resolve().parents[2] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("slipway_build_test_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


helpers = _load_build_helpers()
busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar
Slipway = helpers.Slipway
make_context = helpers.make_context

PULL_MISSING = {"SLIPWAY_PULL_POLICY": "missing"}


@pytest.fixture(scope="module")
def base_in_registry(registry: Registry, busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox, pushed to the loopback registry from a store of its own: no test store has it until it pulls."""
    seed = Slipway(tmp_path_factory.mktemp("seed") / "store")
    helpers.import_busybox(seed, busybox_tar, "busybox:seed")
    name = f"{registry.host}/tests/build-base:v1"
    seed.ok("push", "busybox:seed", name)
    return name


@pytest.fixture
def empty_store(tmp_path: Path) -> Slipway:
    return Slipway(tmp_path / "store")


# -- FROM images and the pull policy --------------------------------------------------------------------------


def test_from_an_image_only_in_the_registry_is_pulled(empty_store: Slipway, base_in_registry: str,
                                                      tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", f"FROM {base_in_registry}\nRUN echo built > /built\n")

    result = empty_store.build_ok(context, "-t", "pulled:v1", env=PULL_MISSING)

    assert f"load metadata for {base_in_registry}" in result.stderr
    assert empty_store.run_output("pulled:v1", "cat", "/built") == "built\n"
    assert base_in_registry in {f"{row.repository}:{row.tag}" for row in empty_store.images()}


def test_pull_policy_never_names_the_missing_image(empty_store: Slipway, base_in_registry: str,
                                                   tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", f"FROM {base_in_registry}\nRUN true\n")

    result = empty_store.build(context, env={"SLIPWAY_PULL_POLICY": "never"})

    assert result.returncode == 1, helpers.describe(result)
    assert f"image '{base_in_registry}' is not in the local store and the pull policy is never" in result.stderr
    assert "Traceback" not in result.stderr
    assert empty_store.images() == []


def test_a_failed_pull_names_the_image_and_the_registry_error(empty_store: Slipway, tmp_path: Path) -> None:
    missing = f"127.0.0.1:{free_port()}/tests/nowhere:v1"
    context = make_context(tmp_path / "ctx", f"FROM {missing}\nRUN true\n")

    result = empty_store.build(context, env=PULL_MISSING)

    assert result.returncode == 1, helpers.describe(result)
    assert f"image '{missing}' is not in the local store, and pulling it failed" in result.stderr
    assert "cannot reach the registry" in result.stderr


def test_pull_always_fetches_the_newer_image(empty_store: Slipway, registry: Registry, busybox_tar: Path,
                                            tmp_path: Path) -> None:
    name = f"{registry.host}/tests/build-moving:v1"
    publisher = Slipway(tmp_path / "publisher")
    helpers.import_busybox(publisher, busybox_tar, "busybox:seed")
    first = make_context(tmp_path / "first", "FROM busybox:seed\nRUN echo one > /version\n")
    publisher.build_ok(first, "-t", name)
    publisher.ok("push", name)
    context = make_context(tmp_path / "ctx", f"FROM {name}\nRUN cat /version > /seen\n")
    empty_store.build_ok(context, "-t", "consumer:v1", env=PULL_MISSING)
    assert empty_store.run_output("consumer:v1", "cat", "/seen") == "one\n"

    second = make_context(tmp_path / "second", "FROM busybox:seed\nRUN echo two > /version\n")
    publisher.build_ok(second, "-t", name)
    publisher.ok("push", name)
    empty_store.build_ok(context, "-t", "consumer:v1", env=PULL_MISSING)
    assert empty_store.run_output("consumer:v1", "cat", "/seen") == "one\n"  # "missing": the stored one

    empty_store.build_ok(context, "--pull", "-t", "consumer:v1", env=PULL_MISSING)
    assert empty_store.run_output("consumer:v1", "cat", "/seen") == "two\n"



# -- --push and type=registry ---------------------------------------------------------------------------------


def test_push_sends_the_image_to_each_name(empty_store: Slipway, registry: Registry, busybox_tar: Path,
                                           tmp_path: Path) -> None:
    helpers.import_busybox(empty_store, busybox_tar)
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nLABEL pushed=yes\nRUN echo pushed > /pushed\n")
    names = [f"{registry.host}/tests/build-push:v1", f"{registry.host}/tests/build-push-copy:v2"]

    result = empty_store.build_ok(context, "--push", "-t", names[0], "-t", names[1])

    printed = dict(re.findall(r"^pushed (\S+)@(sha256:[0-9a-f]{64})$", result.stderr, re.MULTILINE))
    assert set(printed) == set(names)
    for name in names:
        seen = skopeo_inspect(name)
        assert seen["Digest"] == printed[name]
        assert seen["Labels"] == {"pushed": "yes"}
        assert len(seen["Layers"]) == 2  # busybox and the RUN
    assert {f"{row.repository}:{row.tag}" for row in empty_store.images()} >= set(names)


def test_registry_output_pushes_its_name(empty_store: Slipway, registry: Registry, busybox_tar: Path,
                                         tmp_path: Path) -> None:
    helpers.import_busybox(empty_store, busybox_tar)
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo out > /out\n")
    name = f"{registry.host}/tests/build-output-registry:v1"

    empty_store.build_ok(context, "--output", f"type=registry,name={name}")

    pulled = Slipway(tmp_path / "puller")
    pulled.ok("pull", name)
    assert pulled.run_output(name, "cat", "/out") == "out\n"
