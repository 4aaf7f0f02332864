"""Blobs damaged in the store never leave it whole: `save` (docker and OCI), `build -o type=oci|docker` and
`push` check every blob against its digest as they copy it, fail naming the image and the blob, and leave no
output file; the blob is removed, so importing, loading or pulling the image again repairs the store. And
`rmi` and `image prune` leave a store that `system check` calls clean, as `docker rmi` frees the space.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _store_helpers import (
    Registry,
    Slipway,
    describe,
    make_busybox_tar,
    make_context,
    running_registry,
)

from slipway.store import Store

pytestmark = pytest.mark.root

REPRODUCIBLE = {"SOURCE_DATE_EPOCH": "0"}  # importing again gives the same blobs: the repair


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_tar(tmp_path_factory.mktemp("busybox"))


def import_busybox(slipway: Slipway, busybox_tar: Path) -> None:
    slipway.ok("import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox:test", env=REPRODUCIBLE)


@pytest.fixture
def slipway(tmp_path: Path, busybox_tar: Path) -> Slipway:
    store = Slipway(tmp_path / "store")
    import_busybox(store, busybox_tar)
    return store


def blob_paths(slipway: Slipway, ref: str) -> dict[str, Path]:
    with Store.open(slipway.root) as store:
        image = store.images.resolve(ref)
    digests = {
        "manifest": image.manifest_digest,
        "config": image.manifest.config.digest,
        "layer": image.manifest.layers[-1].digest,
    }
    return {part: slipway.root / "blobs" / "sha256" / digest[7:] for part, digest in digests.items()}


def damage(path: Path, how: str) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    if how == "truncated":
        del data[len(data) // 2 :]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def assert_refused(result: subprocess.CompletedProcess[str], *named: str) -> None:
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "is corrupt" in errors[0], describe(result)
    for part in named:
        assert part in errors[0], describe(result)


@pytest.mark.parametrize(
    ("part", "how"),
    [("manifest", "flipped"), ("config", "flipped"), ("layer", "flipped"), ("layer", "truncated")],
)
@pytest.mark.parametrize("format_", ["docker", "oci"])
def test_save_refuses_a_blob_damaged_in_the_store(
    slipway: Slipway, busybox_tar: Path, tmp_path: Path, part: str, how: str, format_: str
) -> None:
    blob = blob_paths(slipway, "busybox:test")[part]
    damage(blob, how)
    out = tmp_path / "out"
    out.mkdir()

    result = slipway("save", "--format", format_, "-o", str(out / "busybox.tar"), "busybox:test")

    assert_refused(result, "busybox:test", blob.name)
    assert os.listdir(out) == []  # no archive, no half-written temp file
    assert not blob.exists()  # removed: `system check` says it is missing, the next import puts it back
    assert blob.name in slipway("system", "check").stdout
    import_busybox(slipway, busybox_tar)
    slipway.ok("save", "--format", format_, "-o", str(out / "busybox.tar"), "busybox:test")
    fresh = Slipway(tmp_path / "fresh")
    fresh.ok("load", "-i", str(out / "busybox.tar"))
    assert fresh.run_output("busybox:test", "echo", "loaded") == "loaded\n"


def test_save_to_stdout_fails_when_a_blob_is_damaged(slipway: Slipway, tmp_path: Path) -> None:
    damage(blob_paths(slipway, "busybox:test")["layer"], "flipped")
    with open(tmp_path / "stdout.tar", "wb") as stdout:
        result = subprocess.run(
            slipway.argv("save", "busybox:test"),
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: cannot export image busybox:test: blob sha256:" in result.stderr


@pytest.mark.parametrize("kind", ["oci", "docker"])
def test_build_output_refuses_a_damaged_base_layer(slipway: Slipway, tmp_path: Path, kind: str) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo built > /built\n")
    slipway.build_ok(context, "-t", "built:1")  # the base is unpacked now: the export reads its blob
    damage(blob_paths(slipway, "busybox:test")["layer"], "flipped")
    dest = tmp_path / "out" / "image.tar"

    result = slipway.build(context, "-o", f"type={kind},dest={dest}")

    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr
    assert "is corrupt" in result.stderr.splitlines()[-1]
    assert not dest.exists() and os.listdir(dest.parent) == []


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


def test_push_refuses_a_damaged_blob_and_the_registry_gets_nothing(
    slipway: Slipway, registry: Registry
) -> None:
    layer = blob_paths(slipway, "busybox:test")["layer"]
    damage(layer, "flipped")
    name = f"{registry.host}/security/damaged:1"

    result = slipway("push", "busybox:test", name)

    assert_refused(result, layer.name)
    manifest = httpx.get(registry.url("/v2/security/damaged/manifests/1"))
    blob = httpx.head(registry.url(f"/v2/security/damaged/blobs/sha256:{layer.name}"))
    assert (manifest.status_code, blob.status_code) == (404, 404)


def test_rmi_frees_what_only_that_image_used(slipway: Slipway, tmp_path: Path) -> None:
    blobs = slipway.root / "blobs" / "sha256"
    base_blobs = set(os.listdir(blobs))
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo one > /one\n")
    slipway.build_ok(context, "-t", "one:1")
    slipway.ok("tag", "one:1", "other:1")
    slipway.ok("save", "-o", str(tmp_path / "one.tar"), "one:1")  # packs its layer blob into the store

    slipway.ok("rmi", "one:1")  # only a name goes: the image stays as other:1
    assert "No problems found" in slipway.ok("system", "check").stdout
    slipway.ok("rmi", "other:1")

    assert "No problems found" in slipway.ok("system", "check").stdout
    assert set(os.listdir(blobs)) == base_blobs
    assert slipway.run_output("busybox:test", "echo", "still here") == "still here\n"


def test_image_prune_leaves_a_clean_store(slipway: Slipway, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo two > /two\n")
    slipway.build_ok(context, "-t", "two:1")
    slipway.build_ok(make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo 2 > /two\n"), "-t", "two:1")
    assert [row.tag for row in slipway.images()].count("<none>") == 1

    slipway.ok("image", "prune", "-f")
    assert "No problems found" in slipway.ok("system", "check").stdout
    slipway.ok("image", "prune", "-af")
    assert "No problems found" in slipway.ok("system", "check").stdout
    assert slipway.images() == []
    slipway.ok("system", "prune", "-af")  # the build cache too: then nothing is left
    assert os.listdir(slipway.root / "blobs" / "sha256") == []
    assert os.listdir(slipway.root / "snapshots") == []


def test_archive_outputs_leave_nothing_behind_in_the_store(slipway: Slipway, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo three > /three\n")
    for kind in ("oci", "docker"):
        slipway.build_ok(context, "-o", f"type={kind},dest={tmp_path / kind}.tar")
        assert "No problems found" in slipway.ok("system", "check").stdout
