"""slipway.push and slipway.pull, the Python API's registry verbs, against a real Distribution registry (loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _registry_images import make_image
from _registry_servers import Registry, skopeo_inspect

import slipway
from slipway.store import Store as StoreRoom

pytestmark = pytest.mark.interop


def test_push_then_pull_into_another_store_gives_the_same_image(
    registry: Registry, repository: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))  # no credentials of this machine
    with StoreRoom.open(tmp_path / "source") as room:
        made = make_image(room, tmp_path / "image", "api-app:v1", busybox=False, random_sizes=(3000,))
    name = f"{registry.host}/{repository}:v1"
    lines: list[str] = []

    with slipway.Store.open(tmp_path / "source") as source:
        digest = slipway.push("api-app:v1", name, on_progress=lines.append, store=source)
    with slipway.Store.open(tmp_path / "target") as target:
        pulled = slipway.pull(name, platform="linux/amd64", store=target)
        assert target.image(name) == pulled

    assert digest == made.manifest_digest == skopeo_inspect(name)["Digest"]
    assert lines[-1].startswith("v1: digest: " + digest)
    assert pulled.id == made.id
    assert pulled.names == (name,)
    assert [layer.diff_id for layer in pulled.layers] == list(made.config.rootfs.diff_ids)


def test_pulling_what_the_registry_does_not_have_is_a_registry_error(
    registry: Registry, tmp_path: Path
) -> None:
    with (
        slipway.Store.open(tmp_path / "root") as store,
        pytest.raises(slipway.errors.SlipwayError) as failure,
    ):
        slipway.pull(f"{registry.host}/tests/never-pushed:v1", platform="linux/amd64", store=store)
    assert "never-pushed:v1: manifest unknown" in str(failure.value)
    with slipway.Store.open(tmp_path / "root") as store:
        assert store.images() == ()  # nothing of the failed pull is kept
