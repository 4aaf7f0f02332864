"""StoreResolver, the build's FROM images: the store, then a registry by pull policy (no root needed)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.errors import ImageNotFound, RegistryError
from slipway.image.layers import pack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    Descriptor,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
    sha256_digest,
)
from slipway.progress.events import Event, StepFailed, StepStarted
from slipway.registry import RegistryOptions, RetryPolicy
from slipway.registry.resolver import StoreResolver
from slipway.store import ImageRecord, Store

# One try: a refused connection on loopback is all these tests need to see.
NO_RETRIES = RegistryOptions(retry=RetryPolicy(tries=1, backoff=0.0))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "root") as opened:
        yield opened


def closed_port_registry() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"  # nothing listens there once the socket is closed


def add_small_image(store: Store, tmp_path: Path, name: str) -> ImageRecord:
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hostname").write_text("slipway\n")
    with store.blobs.ingest() as writer:
        layer = pack_layer(tree, writer, source_date_epoch=0)
    store.images.record_layer(layer)
    config = ImageConfig(architecture="amd64", os="linux", rootfs=RootFS(diff_ids=(layer.diff_id,)))
    config_bytes = encode_json(config)
    manifest = Manifest(
        config=Descriptor(
            media_type=MEDIA_OCI_CONFIG, digest=sha256_digest(config_bytes), size=len(config_bytes)
        ),
        layers=(layer.descriptor,),
    )
    return store.images.add(manifest, config, [name])


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


@pytest.mark.parametrize("policy", ["never", "missing"])
def test_an_image_in_the_store_is_used_without_a_registry(store: Store, tmp_path: Path, policy: str) -> None:
    registry = closed_port_registry()
    image = add_small_image(store, tmp_path, f"{registry}/base:v1")
    events = Recorder()

    found = StoreResolver(store, pull=policy, registry=NO_RETRIES, events=events).resolve(  # type: ignore[arg-type]
        f"{registry}/base:v1", "linux/amd64"
    )

    assert found.manifest_digest == image.manifest_digest
    assert found.ref == f"{registry}/base:v1"
    assert events.events == []


def test_never_does_not_pull_and_says_so(store: Store) -> None:
    ref = f"{closed_port_registry()}/base:v1"
    events = Recorder()

    with pytest.raises(ImageNotFound) as raised:
        StoreResolver(store, pull="never", registry=NO_RETRIES, events=events).resolve(ref, "linux/amd64")

    assert f"image '{ref}' is not in the local store and the pull policy is never" in str(raised.value)
    assert events.events == []


def test_missing_pulls_and_a_failed_pull_names_both_failures(store: Store) -> None:
    ref = f"{closed_port_registry()}/base:v1"
    events = Recorder()

    with pytest.raises(ImageNotFound) as raised:
        StoreResolver(store, pull="missing", registry=NO_RETRIES, events=events).resolve(ref, "linux/amd64")

    message = str(raised.value)
    assert f"image '{ref}' is not in the local store, and pulling it failed" in message
    assert "cannot reach the registry" in message
    assert isinstance(events.events[0], StepStarted)
    assert events.events[0].name == f"[internal] load metadata for {ref}"
    assert isinstance(events.events[-1], StepFailed) and not events.events[-1].cancelled


def test_always_checks_the_registry_even_for_a_stored_image(store: Store, tmp_path: Path) -> None:
    ref = f"{closed_port_registry()}/base:v1"
    add_small_image(store, tmp_path, ref)

    with pytest.raises(RegistryError) as raised:
        StoreResolver(store, pull="always", registry=NO_RETRIES).resolve(ref, "linux/amd64")

    assert f"cannot check {ref} for a newer version (--pull)" in str(raised.value)
