"""A private dockerd pulls and runs what slipway pushed, and slipway pulls what docker pushed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _registry_images import make_image
from _registry_servers import Registry

import prerequisites
from private_dockerd import Dockerd, running_dockerd
from slipway.image.oci import MEDIA_DOCKER_MANIFEST
from slipway.registry import RegistryOptions, pull_image, push_image
from slipway.store import Store

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def dockerd(registry: Registry) -> Iterator[Dockerd]:
    prerequisites.require_tool("dockerd", "docker.io")
    # A short directory: the socket path must fit in sun_path (108 bytes).
    directory = Path(tempfile.mkdtemp(prefix="slipway-dockerd-"))
    try:
        with running_dockerd(directory, [registry.host]) as daemon:
            yield daemon
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_docker_pulls_and_runs_what_slipway_pushed_and_slipway_pulls_what_docker_pushed(
    dockerd: Dockerd,
    registry: Registry,
    store: Store,
    options: RegistryOptions,
    repository: str,
    tmp_path: Path,
) -> None:
    image = make_image(store, tmp_path / "image", None)
    name = f"{registry.host}/{repository}:v1"
    digest = push_image(store, image, name, options=options)

    pulled = dockerd.run("pull", name)
    assert pulled.returncode == 0, pulled.stderr
    assert f"Digest: {digest}" in pulled.stdout
    inspected = dockerd.run("image", "inspect", "--format", "{{.Id}}", name)
    assert inspected.stdout.strip() == image.id
    ran = dockerd.run("run", "--rm", "--network", "none", name, "echo", "hi")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hi\n"

    # docker re-pushes it as Docker schema 2: slipway pulls that, and the layers are the same bytes.
    again = f"{registry.host}/{repository}/from-docker:v2"
    assert dockerd.run("tag", name, again).returncode == 0
    docker_push = dockerd.run("push", again)
    assert docker_push.returncode == 0, docker_push.stderr
    with Store.open(tmp_path / "second") as second:
        from_docker = pull_image(second, again, options=options)
        assert from_docker.manifest.media_type == MEDIA_DOCKER_MANIFEST
        assert from_docker.config.rootfs.diff_ids == image.config.rootfs.diff_ids
        assert f"v2: digest: {from_docker.manifest_digest} " in docker_push.stdout
