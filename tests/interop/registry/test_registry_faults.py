"""Faults between slipway and a real registry, injected by a loopback proxy: transient ones are retried, the
rest fail with a clear error; either way the store keeps nothing half-written and tags nothing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from _registry_images import make_image
from _registry_servers import Fault, Proxy, Registry, store_listing

from slipway.errors import RegistryError
from slipway.registry import RegistryOptions, pull_image, push_image
from slipway.store import ImageRecord, Store

pytestmark = pytest.mark.interop


@pytest.fixture
def pushed(registry: Registry, options: RegistryOptions, repository: str, tmp_path: Path) -> ImageRecord:
    """A two-layer image in the registry as <repository>:v1 (pushed from a store of its own)."""
    with Store.open(tmp_path / "source-root") as source:
        image = make_image(source, tmp_path / "image", None, busybox=False, random_sizes=(300_000, 5000))
        push_image(source, image, f"{registry.host}/{repository}:v1", options=options)
        return image


def layer_path(image: ImageRecord, position: int = 0) -> str:
    return f"/blobs/{image.manifest.layers[position].digest}"


@pytest.mark.parametrize(
    "fault",
    [
        Fault("GET", "/manifests/v1", "status", status=500),
        Fault("GET", "/manifests/v1", "status", status=503, times=2),
        Fault("GET", "/manifests/v1", "drop"),
        Fault("GET", "/blobs/", "status", status=429, retry_after="1"),
        Fault("GET", "/blobs/", "drop", times=2),
        Fault("GET", "/blobs/", "truncate"),
    ],
    ids=[
        "manifest-500",
        "manifest-503-twice",
        "manifest-dropped",
        "blob-429-retry-after",
        "blob-dropped-twice",
        "blob-truncated-once",
    ],
)
def test_transient_faults_are_retried(
    proxy: Proxy, store: Store, options: RegistryOptions, repository: str, pushed: ImageRecord, fault: Fault
) -> None:
    proxy.faults.append(fault)
    image = pull_image(store, f"{proxy.host}/{repository}:v1", options=options)
    assert image.manifest_digest == pushed.manifest_digest
    assert fault.times == 0  # the fault did happen
    assert proxy.count(fault.method, fault.path) >= 2


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault("GET", "LAYER0", "truncate", times=3), r"connection broke .*gave up after 3 tries"),
        (Fault("GET", "LAYER0", "status", status=502, times=3), r"answered 502 .*gave up after 3 tries"),
        (Fault("GET", "LAYER0", "corrupt"), r"does not match its digest"),
        (Fault("GET", "LAYER0", "long"), r"more than the \d+ bytes"),
        (Fault("GET", "LAYER0", "short", times=3), r"sent \d+ of \d+ bytes"),
        (
            Fault("GET", "/manifests/v1", "corrupt"),
            r"the manifest's digest is sha256:\w+ but the registry says",
        ),
        (
            Fault(
                "GET",
                "/manifests/v1",
                "respond",
                status=200,
                body=b"<html>not a manifest</html>",
                content_type="application/vnd.oci.image.manifest.v1+json",
            ),
            r"invalid image manifest",
        ),
    ],
    ids=[
        "truncated-every-time",
        "502-every-time",
        "corrupt-blob",
        "long-blob",
        "short-blob",
        "manifest-digest",
        "garbage-manifest",
    ],
)
def test_failed_pulls_leave_the_store_as_it_was(
    proxy: Proxy,
    store: Store,
    options: RegistryOptions,
    repository: str,
    pushed: ImageRecord,
    fault: Fault,
    message: str,
) -> None:
    fault.path = fault.path.replace("LAYER0", layer_path(pushed))
    proxy.faults.append(fault)
    before = store_listing(store)
    name = f"{proxy.host}/{repository}:v1"
    with pytest.raises(RegistryError, match=message) as caught:
        pull_image(store, name, options=options)
    assert f"{proxy.host}/{repository}" in str(caught.value)
    images, blobs, temporary = store_listing(store)
    assert images == before[0] and temporary == []
    assert pushed.manifest.layers[0].digest.split(":")[1] not in blobs
    assert all(path.name in blobs for path in (store.root / "blobs" / "sha256").iterdir())


def test_pull_by_digest_refuses_a_manifest_that_does_not_match(
    proxy: Proxy, store: Store, options: RegistryOptions, repository: str, pushed: ImageRecord
) -> None:
    proxy.faults.append(Fault("GET", f"/manifests/{pushed.manifest_digest}", "corrupt"))
    with pytest.raises(RegistryError, match=r"sent a manifest whose digest is sha256:\w+"):
        pull_image(store, f"{proxy.host}/{repository}@{pushed.manifest_digest}", options=options)
    assert store.images.list() == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault("PUT", r"/blobs/uploads/.*digest=", "drop"),
        Fault("POST", r"/blobs/uploads/", "status", status=500),
        Fault("PUT", "/manifests/v1", "status", status=429, retry_after="0"),
    ],
    ids=["upload-dropped", "upload-start-500", "manifest-429"],
)
def test_push_retries_transient_faults(
    proxy: Proxy, store: Store, options: RegistryOptions, repository: str, tmp_path: Path, fault: Fault
) -> None:
    image = make_image(store, tmp_path / "image", None, busybox=False)
    proxy.faults.append(fault)
    digest = push_image(store, image, f"{proxy.host}/{repository}:v1", options=options)
    assert digest == image.manifest_digest and fault.times == 0
    with Store.open(tmp_path / "check-root") as check:
        assert pull_image(check, f"{proxy.host}/{repository}:v1", options=options).id == image.id


def test_push_that_keeps_failing_tags_nothing(
    proxy: Proxy, registry: Registry, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    image = make_image(store, tmp_path / "image", None, busybox=False)
    proxy.faults.append(Fault("PUT", "/manifests/v1", "status", status=500, times=3))
    with pytest.raises(RegistryError, match=rf"{proxy.host}/{repository}:v1: the registry answered 500"):
        push_image(store, image, f"{proxy.host}/{repository}:v1", options=options)
    assert httpx.get(registry.url(f"/v2/{repository}/manifests/v1")).status_code == 404


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (None, None),
        ("corrupt", r"sent \d+ bytes whose digest is sha256:\w+; the registry or something between"),
        ("long", r"more than \d+ bytes where a \d+-byte blob was expected"),
        ("short", r"sent \d+ bytes whose digest is"),
    ],
    ids=["as-sent", "corrupt", "long", "short"],
)
def test_a_document_blob_is_read_into_memory_checked(
    proxy: Proxy,
    store: Store,
    options: RegistryOptions,
    repository: str,
    pushed: ImageRecord,
    kind: str | None,
    message: str | None,
) -> None:
    """A cache's config is read, not stored (no image would reference it): checked as a stored blob is."""
    from slipway.registry import RegistryClient

    config = pushed.manifest.config
    if kind is not None:
        proxy.faults.append(Fault("GET", f"/blobs/{config.digest}", kind, times=3))
    before = store_listing(store)
    with RegistryClient(proxy.host, options=options) as client:
        if message is None:
            body = client.fetch_document(repository, config, 1 << 20)
            assert len(body) == config.size
            assert json.loads(body)["rootfs"]["diff_ids"] == [str(d) for d in pushed.config.rootfs.diff_ids]
        else:
            with pytest.raises(RegistryError, match=message):
                client.fetch_document(repository, config, 1 << 20)
        with pytest.raises(RegistryError, match=r"more than the 10 a document holds"):
            client.fetch_document(repository, config, 10)
    assert store_listing(store) == before  # nothing stored either way
