"""docker-save archives: written deterministically, loaded back with the same digests, legacy layouts read."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import zstandard
from _archive_images import add_image, layer_tar, run_cli, sha256

from slipway.export.docker_archive import load_archive, write_docker_archive
from slipway.export.selection import select_images
from slipway.image.layers import LayerInfo
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_LAYER_ZSTD,
    Descriptor,
    DiffID,
    ImageConfig,
    Manifest,
    RootFS,
    decode_json,
    encode_json,
)
from slipway.store import Store


def save_bytes(store: Store, *refs: str) -> bytes:
    out = io.BytesIO()
    write_docker_archive(store, select_images(store, refs), out)
    return out.getvalue()


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_save_then_load_into_another_store_keeps_digests_and_names(store: Store, tmp_path: Path) -> None:
    base = add_image(store, [{"bin/tool": b"tool v1"}], ["base:1"])
    app = add_image(store, [{"app/main": b"print('hi')"}], ["registry.local:5000/team/app:v2"], base=base)
    archive = save_bytes(store, "base:1", "registry.local:5000/team/app:v2")

    with Store.open(tmp_path / "other") as other:
        loaded = load_archive(other, io.BytesIO(archive), "images.tar")
        assert [item.names for item in loaded] == [
            ("docker.io/library/base:1",),
            ("registry.local:5000/team/app:v2",),
        ]
        again = other.images.resolve("registry.local:5000/team/app:v2")
        assert again.id == app.id
        assert again.manifest_digest == app.manifest_digest
        assert other.blobs.read(app.manifest.layers[-1].digest) == store.blobs.read(
            app.manifest.layers[-1].digest
        )
        assert other.images.resolve("base:1").manifest_digest == base.manifest_digest


def test_saving_twice_gives_byte_identical_archives(store: Store, tmp_path: Path) -> None:
    add_image(store, [{"a": b"1"}, {"b": b"2"}], ["x:1", "x:2"])
    first = save_bytes(store, "x:1", "x:2")
    assert first == save_bytes(store, "x:1", "x:2")
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        entries = tar.getmembers()
    assert {entry.mtime for entry in entries} == {0}
    assert {(entry.uid, entry.gid, entry.uname, entry.gname) for entry in entries} == {(0, 0, "", "")}
    files = [entry.name for entry in entries if entry.isfile()]
    assert files == sorted(files)
    # Another store holding the same images saves the same bytes: nothing of a store's order or paths leaks in.
    with Store.open(tmp_path / "other") as other:
        load_archive(other, io.BytesIO(first), "x.tar")
        assert save_bytes(other, "x:1", "x:2") == first


def test_docker_manifest_points_at_blobs_docker_load_can_read(store: Store) -> None:
    image = add_image(store, [{"etc/hostname": b"box\n"}], ["box:latest"])
    files = members(save_bytes(store, "box"))
    [entry] = json.loads(files["manifest.json"])
    assert entry["RepoTags"] == ["box:latest"]
    assert entry["Config"] == "blobs/sha256/" + image.id.split(":")[1]
    config = decode_json(files[entry["Config"]], ImageConfig)
    # docker load hashes each layer file after decompressing it: that must be the config's diff_id.
    [layer] = entry["Layers"]
    assert sha256(gzip.decompress(files[layer])) == config.rootfs.diff_ids[0]
    assert json.loads(files["repositories"]) == {"box": {"latest": layer.rsplit("/", 1)[1]}}
    index = json.loads(files["index.json"])
    assert index["manifests"][0]["annotations"] == {
        "io.containerd.image.name": "docker.io/library/box:latest",
        "org.opencontainers.image.ref.name": "latest",
    }


def test_save_by_id_writes_no_tags_and_loads_untagged(store: Store, root: Path, tmp_path: Path) -> None:
    image = add_image(store, [{"f": b"x"}], ["named:1"])
    archive = tmp_path / "by-id.tar"
    result = run_cli(root, "save", "-o", str(archive), image.id[7:19])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(members(archive.read_bytes())["manifest.json"])
    assert entry["RepoTags"] == []
    loaded = run_cli(tmp_path / "other", "load", "-i", str(archive))
    assert loaded.output == f"Loaded image ID: {image.id}\n"


def legacy_archive(layers: list[bytes], repo_tags: list[str], *, share_by_symlink: bool = False) -> bytes:
    """An archive as Docker before 25 wrote it: <id>/layer.tar, <config hex>.json, manifest.json."""
    diff_ids = [sha256(layer) for layer in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2023-01-01T00:00:00.123456789Z",
            "container_config": {"Hostname": "abc"},  # fields slipway has no place for must survive too
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2023-01-01T00:00:00Z", "created_by": "ADD rootfs /"}] * len(layers),
        }
    ).encode()
    config_hex = sha256(config).split(":")[1]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        paths = []
        for number, layer in enumerate(layers):
            path = f"{number:064x}/layer.tar"
            if share_by_symlink and number > 0 and layer == layers[0]:
                info = tarfile.TarInfo(path)
                info.type = tarfile.SYMTYPE
                info.linkname = f"../{0:064x}/layer.tar"
                tar.addfile(info)
            else:
                add(path, layer)
            paths.append(path)
        add(f"{config_hex}.json", config)
        add(
            "manifest.json",
            json.dumps([{"Config": f"{config_hex}.json", "RepoTags": repo_tags, "Layers": paths}]).encode(),
        )
    return out.getvalue()


def test_loads_a_legacy_docker_save_archive_with_shared_layer_symlinks(store: Store) -> None:
    layer = layer_tar({"bin/sh": b"#!"})
    archive = legacy_archive(
        [layer, layer_tar({"etc/motd": b"hi"}), layer], ["legacy:1"], share_by_symlink=True
    )
    [loaded] = load_archive(store, io.BytesIO(archive), "legacy.tar")
    image = store.images.resolve("legacy:1")
    assert loaded.image.id == image.id
    assert store.blobs.read(image.id).startswith(b'{"architecture"')  # the config bytes as docker wrote them
    assert b"container_config" in store.blobs.read(image.id)
    assert [layer.media_type for layer in image.manifest.layers] == [MEDIA_OCI_LAYER] * 3
    assert image.size == 2 + 2 + 2  # the files' bytes in each layer, as `docker images` counts them


def test_loads_a_gzip_compressed_archive_from_the_cli(store: Store, root: Path, tmp_path: Path) -> None:
    archive = tmp_path / "images.tar.gz"
    archive.write_bytes(gzip.compress(legacy_archive([layer_tar({"a": b"1"})], ["zipped:v1"])))
    store.close()
    result = run_cli(root, "load", "-i", str(archive))
    assert result.exit_code == 0, result.output
    assert result.output == "Loaded image: zipped:v1\n"
    listing = run_cli(root, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert listing.output == "zipped:v1\n"


def test_load_from_stdin(root: Path) -> None:
    archive = legacy_archive([layer_tar({"a": b"1"})], ["piped:latest"])
    result = run_cli(root, "load", input=archive)
    assert result.exit_code == 0, result.output
    assert result.output == "Loaded image: piped:latest\n"


def test_zstd_layers_get_a_plain_copy_for_docker_load(store: Store, tmp_path: Path) -> None:
    plain = layer_tar({"z": b"zzz"})
    blob = zstandard.ZstdCompressor().compress(plain)
    descriptor = Descriptor(media_type=MEDIA_OCI_LAYER_ZSTD, digest=store.blobs.put(blob), size=len(blob))
    info = LayerInfo(DiffID(sha256(plain)), descriptor, len(plain))
    store.images.record_layer(info)
    config = ImageConfig(architecture="amd64", os="linux", rootfs=RootFS(diff_ids=(info.diff_id,)))
    data = encode_json(config)
    config_descriptor = Descriptor(media_type=MEDIA_OCI_CONFIG, digest=store.blobs.put(data), size=len(data))
    image = store.images.add(Manifest(config=config_descriptor, layers=(descriptor,)), config, ["zst:1"])

    archive = save_bytes(store, "zst:1")
    files = members(archive)
    [entry] = json.loads(files["manifest.json"])
    assert entry["Layers"] == ["blobs/sha256/" + info.diff_id.split(":")[1]]
    assert files[entry["Layers"][0]] == plain
    assert files["blobs/sha256/" + descriptor.digest.split(":")[1]] == blob
    with Store.open(tmp_path / "other") as other:
        load_archive(other, io.BytesIO(archive), "zst.tar")
        reloaded = other.images.resolve("zst:1")
        assert reloaded.manifest_digest == image.manifest_digest
        assert reloaded.manifest.layers[0].media_type == MEDIA_OCI_LAYER_ZSTD


def test_loads_a_docker_25_archive_keeping_its_oci_manifest_digest(store: Store) -> None:
    """Docker 25+ writes an OCI layout (uncompressed layer blobs) with manifest.json pointing into blobs/."""
    layer = layer_tar({"bin/sh": b"#!"})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["A=b"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]}}).encode()  # fmt: skip
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": MEDIA_OCI_LAYER, "digest": sha256(layer), "size": len(layer)}],
    }).encode()  # fmt: skip
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(manifest), "size": len(manifest),
        "annotations": {"io.containerd.image.name": "docker.io/library/new:25", "org.opencontainers.image.ref.name": "25"}}]}).encode()  # fmt: skip
    entries = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": index,
        "manifest.json": json.dumps(
            [
                {
                    "Config": f"blobs/sha256/{sha256(config)[7:]}",
                    "RepoTags": ["new:25"],
                    "Layers": [f"blobs/sha256/{sha256(layer)[7:]}"],
                }
            ]
        ).encode(),  # fmt: skip
        **{f"blobs/sha256/{sha256(data)[7:]}": data for data in (config, manifest, layer)},
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    [loaded] = load_archive(store, io.BytesIO(out.getvalue()), "docker25.tar")
    assert loaded.names == ("docker.io/library/new:25",)
    assert (loaded.image.id, loaded.image.manifest_digest) == (sha256(config), sha256(manifest))
    assert store.blobs.read(loaded.image.manifest.layers[0].digest) == layer
