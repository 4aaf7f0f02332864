"""OCI image layout archives: what skopeo and umoci read, loaded back with the same digests."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from _archive_images import add_image, layer_tar, run_cli, sha256

from slipway.export.docker_archive import load_archive
from slipway.export.oci_layout import write_oci_archive
from slipway.export.selection import select_images
from slipway.image.platforms import host_platform
from slipway.store import Store


def save_oci(store: Store, *refs: str) -> bytes:
    out = io.BytesIO()
    write_oci_archive(store, select_images(store, refs), out)
    return out.getvalue()


def files_of(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_layout_has_the_spec_files_and_every_blob_under_its_digest(store: Store) -> None:
    image = add_image(store, [{"bin/app": b"app"}, {"etc/app.conf": b"x=1"}], ["ghcr.io/team/app:1.0"])
    files = files_of(save_oci(store, "ghcr.io/team/app:1.0"))
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    assert "manifest.json" not in files
    index = json.loads(files["index.json"])
    assert index["schemaVersion"] == 2
    [descriptor] = index["manifests"]
    assert descriptor["digest"] == image.manifest_digest
    assert descriptor["annotations"] == {
        "io.containerd.image.name": "ghcr.io/team/app:1.0",
        "org.opencontainers.image.ref.name": "1.0",
    }
    blobs = {name: data for name, data in files.items() if name.startswith("blobs/sha256/")}
    assert all(sha256(data) == "sha256:" + name.rsplit("/", 1)[1] for name, data in blobs.items())
    expected = {image.manifest_digest, image.id, *(layer.digest for layer in image.manifest.layers)}
    assert {"sha256:" + name.rsplit("/", 1)[1] for name in blobs} == expected


def test_round_trip_keeps_manifest_and_config_digests(store: Store, tmp_path: Path) -> None:
    image = add_image(store, [{"a": b"1"}], ["one:1", "one:2"])
    archive = save_oci(store, "one:1", "one:2")
    assert archive == save_oci(store, "one:1", "one:2")
    with Store.open(tmp_path / "other") as other:
        loaded = load_archive(other, io.BytesIO(archive), "one.tar")
        assert [item.names for item in loaded] == [("docker.io/library/one:1",), ("docker.io/library/one:2",)]
        reloaded = other.images.resolve("one:2")
        assert (reloaded.id, reloaded.manifest_digest) == (image.id, image.manifest_digest)
        assert reloaded.names == ("docker.io/library/one:1", "docker.io/library/one:2")


def test_cli_save_oci_and_load_prints_names(store: Store, root: Path, tmp_path: Path) -> None:
    add_image(store, [{"a": b"1"}], ["localhost:5000/svc:dev"])
    store.close()
    archive = tmp_path / "svc.oci.tar"
    assert (
        run_cli(root, "save", "--format", "oci", "-o", str(archive), "localhost:5000/svc:dev").exit_code == 0
    )
    result = run_cli(tmp_path / "other", "image", "load", "-i", str(archive))
    assert result.output == "Loaded image: localhost:5000/svc:dev\n"


def test_a_bare_ref_name_loads_untagged_and_a_nested_index_gives_this_hosts_platform(
    store: Store, tmp_path: Path
) -> None:
    amd = add_image(store, [{"arch": b"amd64"}])
    arm = add_image(store, [{"arch": b"arm64"}])
    files = files_of(save_oci(store, amd.id, arm.id))
    manifests = json.loads(files["index.json"])["manifests"]
    here = host_platform().architecture
    manifests[0]["platform"] = {"architecture": here, "os": "linux"}
    manifests[1]["platform"] = {"architecture": "s390x" if here != "s390x" else "arm64", "os": "linux"}
    nested = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    ).encode()
    files[f"blobs/sha256/{sha256(nested)[7:]}"] = nested
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": sha256(nested),
                "size": len(nested),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    files["index.json"] = json.dumps(top).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with Store.open(tmp_path / "other") as other:
        [loaded] = load_archive(other, io.BytesIO(out.getvalue()), "multi.tar")
        assert loaded.names == ()
        assert loaded.image.id == amd.id
        assert [image.id for image in other.images.list()] == [amd.id]


def test_saved_layer_tars_hold_the_files(store: Store) -> None:
    image = add_image(store, [{"etc/motd": b"welcome"}], ["motd:1"])
    files = files_of(save_oci(store, "motd:1"))
    import gzip

    layer = gzip.decompress(files[f"blobs/sha256/{image.manifest.layers[0].digest[7:]}"])
    assert layer == layer_tar({"etc/motd": b"welcome"})
