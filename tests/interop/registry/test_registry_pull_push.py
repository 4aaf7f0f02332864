"""Pull and push against a real Distribution registry, checked with skopeo; round trips; blob skipping,
cross-repository mounts, chunked uploads, indexes and platforms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _registry_images import make_image
from _registry_servers import Fault, Proxy, Registry, free_port, skopeo, skopeo_inspect, store_listing

from slipway.errors import ImageNotFound, InvalidReference, RegistryError
from slipway.image.oci import MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, Descriptor, Index, Platform, encode_json
from slipway.registry import RegistryClient, RegistryOptions, pull_image, push_image
from slipway.store import ImageRecord, Store

pytestmark = pytest.mark.interop


def test_push_is_what_skopeo_sees_and_copies(
    registry: Registry, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    image = make_image(store, tmp_path / "image", "app:v1", random_sizes=(1000, 2000))
    events: list[str] = []
    digest = push_image(
        store, image, f"{registry.host}/{repository}:v1", options=options, on_event=events.append
    )

    assert digest == image.manifest_digest
    assert events[0] == f"The push refers to repository [{registry.host}/{repository}]"
    assert sum(line.endswith(": Pushed") for line in events) == 3
    assert events[-1] == f"v1: digest: {digest} size: {len(store.blobs.read(digest))}"
    seen = skopeo_inspect(f"{registry.host}/{repository}:v1")
    assert seen["Digest"] == digest
    assert seen["Layers"] == [layer.digest for layer in image.manifest.layers]
    assert seen["Architecture"] == "amd64" and seen["Os"] == "linux"

    layout = tmp_path / "layout"
    copied = skopeo(
        "copy", "--src-tls-verify=false", f"docker://{registry.host}/{repository}:v1", f"oci:{layout}:v1"
    )
    assert copied.returncode == 0, copied.stderr
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    for layer in image.manifest.layers:
        assert (layout / "blobs" / "sha256" / layer.digest.split(":")[1]).read_bytes() == store.blobs.read(
            layer.digest
        )


def test_round_trip_into_an_empty_store_keeps_digests(
    registry: Registry, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    image = make_image(store, tmp_path / "image", "app:v1")
    name = f"{registry.host}/{repository}:v1"
    pushed = push_image(store, image, name, options=options)

    with Store.open(tmp_path / "second-root") as second:
        events: list[str] = []
        pulled = pull_image(second, name, options=options, on_event=events.append)
        assert pulled.manifest_digest == pushed == image.manifest_digest
        assert pulled.id == image.id
        assert pulled.names == (name,)
        assert second.images.resolve(name).id == image.id
        assert all(
            second.blobs.read(layer.digest) == store.blobs.read(layer.digest)
            for layer in image.manifest.layers
        )
        assert sum(line.endswith(": Pull complete") for line in events) == 2
        assert f"Digest: {pushed}" in events and events[-1] == name

        again: list[str] = []
        pull_image(second, name, options=options, on_event=again.append)
        assert sum(line.endswith(": Already exists") for line in again) == 2
        assert f"Status: Image is up to date for {name}" in again


def test_pull_what_skopeo_pushed_as_docker_schema_2(
    registry: Registry, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    with Store.open(tmp_path / "source-root") as source:
        image = make_image(source, tmp_path / "image", None)
        layout = _oci_layout(source, image, tmp_path / "layout")
    name = f"{registry.host}/{repository}:from-skopeo"
    copied = skopeo(
        "copy", "--format", "v2s2", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{name}"
    )
    assert copied.returncode == 0, copied.stderr
    seen = skopeo_inspect(name)

    pulled = pull_image(store, name, options=options)
    assert pulled.manifest_digest == seen["Digest"]  # the registry's bytes, not a re-encoding
    assert pulled.manifest.media_type == MEDIA_DOCKER_MANIFEST
    assert pulled.config.rootfs.diff_ids == image.config.rootfs.diff_ids
    assert store.images.resolve(f"{registry.host}/{repository}@{seen['Digest']}").id == pulled.id


def test_second_push_skips_blobs_the_registry_has(
    proxy: Proxy, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    image = make_image(store, tmp_path / "image", "app:v1", random_sizes=(100, 200))
    push_image(store, image, f"{proxy.host}/{repository}:v1", options=options)
    uploads = proxy.count("POST", "/blobs/uploads/")
    assert uploads == 4  # three layers and the config

    events: list[str] = []
    push_image(store, image, f"{proxy.host}/{repository}:v2", options=options, on_event=events.append)
    assert proxy.count("POST", "/blobs/uploads/") == uploads
    assert sum(line.endswith(": Layer already exists") for line in events) == 3


def test_push_to_another_repository_mounts_blobs(
    proxy: Proxy, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    image = make_image(store, tmp_path / "image", "app:v1")
    push_image(store, image, f"{proxy.host}/{repository}/one:v1", options=options)
    blob_uploads = proxy.count("PUT", r"/blobs/uploads/.*digest=")

    events: list[str] = []
    push_image(store, image, f"{proxy.host}/{repository}/two:v1", options=options, on_event=events.append)
    assert sum(line.endswith(f": Mounted from {repository}/one") for line in events) == 2
    assert proxy.count("POST", rf"/v2/{repository}/two/blobs/uploads/\?mount=sha256.*from=") == 3
    assert proxy.count("PUT", r"/blobs/uploads/.*digest=") == blob_uploads  # no blob was sent again
    assert skopeo_inspect(f"{proxy.host}/{repository}/two:v1")["Digest"] == image.manifest_digest


def test_pulled_image_mounts_from_its_source_repository(
    registry: Registry, proxy: Proxy, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    with Store.open(tmp_path / "builder-root") as builder:
        image = make_image(builder, tmp_path / "image", None, busybox=False)
        push_image(builder, image, f"{proxy.host}/{repository}/base:v1", options=options)
    pulled = pull_image(store, f"{proxy.host}/{repository}/base:v1", options=options)
    events: list[str] = []
    push_image(
        store, pulled, f"{proxy.host}/{repository}/derived:v1", options=options, on_event=events.append
    )
    assert events[1] == f"{pulled.manifest.layers[0].digest[7:19]}: Mounted from {repository}/base"


def test_large_blob_goes_up_in_chunks(
    proxy: Proxy, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    image = make_image(store, tmp_path / "image", None, busybox=False, random_sizes=(20 << 20,))
    assert image.manifest.layers[0].size > 16 << 20
    name = f"{proxy.host}/{repository}:big"
    push_image(store, image, name, options=options)
    assert proxy.count("PATCH", "/blobs/uploads/") == 2  # 16 MiB chunks
    with Store.open(tmp_path / "second-root") as second:
        pulled = pull_image(second, name, options=options)
        assert second.blobs.read(pulled.manifest.layers[0].digest) == store.blobs.read(
            image.manifest.layers[0].digest
        )


def test_index_picks_the_platform(
    registry: Registry, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    amd64 = make_image(store, tmp_path / "amd64", None, busybox=False)
    arm64 = make_image(store, tmp_path / "arm64", None, busybox=False, architecture="arm64", variant="v8")
    armv6 = make_image(store, tmp_path / "armv6", None, busybox=False, architecture="arm", variant="v6")
    descriptors = []
    for image, platform in (
        (amd64, Platform("amd64", "linux")),
        (arm64, Platform("arm64", "linux", "v8")),
        (armv6, Platform("arm", "linux", "v6")),
    ):
        digest = push_image(
            store, image, f"{registry.host}/{repository}:{platform.architecture}", options=options
        )
        descriptors.append(
            Descriptor(
                media_type=image.manifest.media_type or "",
                digest=digest,
                size=len(store.blobs.read(digest)),
                platform=platform,
            )
        )
    with RegistryClient(registry.host, options=options, push=True) as client:
        client.put_manifest(
            repository, "multi", encode_json(Index(manifests=tuple(descriptors))), MEDIA_OCI_INDEX
        )

    name = f"{registry.host}/{repository}:multi"
    with Store.open(tmp_path / "pulls") as pulls:
        assert pull_image(pulls, name, platform="linux/arm64", options=options).id == arm64.id
        assert pull_image(pulls, name, platform="linux/arm/v7", options=options).id == armv6.id
        assert pull_image(pulls, name, options=options).id == amd64.id
        assert pulls.images.resolve(name).id == amd64.id
        with pytest.raises(
            RegistryError, match=r"no image for linux/s390x; it has linux/amd64, linux/arm/v6, "
        ):
            pull_image(pulls, name, platform="linux/s390x", options=options)


def test_pull_by_digest_tags_nothing(
    registry: Registry, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    with Store.open(tmp_path / "source") as source:
        image = make_image(source, tmp_path / "image", None, busybox=False)
        digest = push_image(source, image, f"{registry.host}/{repository}:v1", options=options)
    pulled = pull_image(store, f"{registry.host}/{repository}@{digest}", options=options)
    assert pulled.manifest_digest == digest and pulled.names == ()
    with pytest.raises(ImageNotFound):
        store.images.resolve(f"{registry.host}/{repository}:v1")


def test_missing_tag_and_unreachable_registry(
    registry: Registry, store: Store, options: RegistryOptions, repository: str
) -> None:
    before = store_listing(store)
    with pytest.raises(RegistryError, match=rf"{registry.host}/{repository}:nope: manifest unknown"):
        pull_image(store, f"{registry.host}/{repository}:nope", options=options)
    closed = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryError, match=rf"{closed}/{repository}:v1: .*cannot reach the registry"):
        pull_image(store, f"{closed}/{repository}:v1", options=options)
    with pytest.raises(InvalidReference):
        push_image(
            store,
            make_image(store, store.root / "w", None, busybox=False),
            f"{registry.host}/{repository}@sha256:{'a' * 64}",
            options=options,
        )
    assert store_listing(store)[0] == before[0] | {(i.id, i.names) for i in store.images.list()} - before[0]


def test_schema1_manifest_is_refused(
    proxy: Proxy, store: Store, options: RegistryOptions, repository: str
) -> None:
    schema1 = json.dumps(
        {
            "schemaVersion": 1,
            "name": repository,
            "tag": "old",
            "architecture": "amd64",
            "fsLayers": [],
            "history": [],
            "signatures": [],
        }
    ).encode()
    proxy.faults.append(
        Fault(
            "GET",
            "/manifests/old",
            "respond",
            status=200,
            body=schema1,
            content_type="application/vnd.docker.distribution.manifest.v1+prettyjws",
        )
    )
    with pytest.raises(RegistryError, match="schema 1 image, which is deprecated and not supported"):
        pull_image(store, f"{proxy.host}/{repository}:old", options=options)
    assert store.images.list() == []


def test_cli_push_and_pull(registry: Registry, store: Store, repository: str, tmp_path: Path) -> None:
    image = make_image(store, tmp_path / "image", "cli-app:v1", busybox=False)
    env = {"PATH": "/usr/bin:/bin", "DOCKER_CONFIG": str(tmp_path / "docker"), "HOME": str(tmp_path)}
    if "PYTHONPATH" in os.environ:  # the slipway under test, not whichever one is installed
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    name = f"{registry.host}/{repository}:cli"
    pushed = _slipway(env, "--root", str(store.root), "push", "cli-app:v1", name)
    assert pushed.returncode == 0, pushed.stderr
    assert f"v1: digest: {image.manifest_digest}" not in pushed.stdout  # the tag pushed is "cli"
    assert f"cli: digest: {image.manifest_digest}" in pushed.stdout

    second_root = tmp_path / "second-root"
    pulled = _slipway(env, "--root", str(second_root), "pull", name)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.splitlines()[-1] == name
    with Store.open(second_root) as second:
        assert second.images.resolve(name).manifest_digest == image.manifest_digest

    missing = _slipway(env, "--root", str(second_root), "pull", f"{registry.host}/{repository}:missing")
    assert missing.returncode == 1
    assert f"error: {registry.host}/{repository}:missing: manifest unknown" in missing.stderr
    assert "Traceback" not in missing.stderr


def _slipway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slipway", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _oci_layout(store: Store, image: ImageRecord, directory: Path) -> Path:
    """An OCI image layout of `image`, for skopeo to push."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for descriptor in (image.manifest.config, *image.manifest.layers):
        (blobs / descriptor.digest.split(":")[1]).write_bytes(store.blobs.read(descriptor.digest))
    manifest = store.blobs.read(image.manifest_digest)
    (blobs / image.manifest_digest.split(":")[1]).write_bytes(manifest)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (directory / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": image.manifest.media_type,
                        "digest": image.manifest_digest,
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "v1"},
                    }
                ],
            }
        )
    )
    return directory
