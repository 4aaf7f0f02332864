"""A corpus of bad and malicious archives, made here with tarfile: each is refused with a message naming the
archive and the entry, and the store (its files and sizes, and `slipway images`) is exactly as before."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from _archive_images import add_image, layer_tar, run_cli, sha256, store_listing
from click.testing import CliRunner

from slipway.cli import cli
from slipway.errors import ArchiveError
from slipway.store import Store

Entry = tuple[str, bytes] | tarfile.TarInfo


def tar_of(entries: list[Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sized(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    """A header that declares `size` bytes, written without them."""
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def config_for(layers: list[bytes], diff_ids: list[str] | None = None) -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids or [sha256(layer) for layer in layers]},
        }
    ).encode()


def docker_archive(
    layers: list[bytes], *, diff_ids: list[str] | None = None, extra: list[Entry] = ()
) -> bytes:  # type: ignore[assignment]
    """A legacy docker-save archive of `layers` (each stored as given), tagged evil:latest."""
    config = config_for(layers, diff_ids)
    config_name = sha256(config).split(":")[1] + ".json"
    paths = [f"layer{number}/layer.tar" for number in range(len(layers))]
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["evil:latest"], "Layers": paths}]).encode()
    return tar_of(
        [*extra, *zip(paths, layers, strict=True), (config_name, config), ("manifest.json", manifest)]
    )


def oci_archive(blobs: dict[str, bytes], manifest_digest: str, manifest_size: int) -> bytes:
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"io.containerd.image.name": "docker.io/library/evil:latest"},
            }
        ],
    }
    entries: list[Entry] = [
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
        ("index.json", json.dumps(index).encode()),
    ]
    entries += [(f"blobs/sha256/{digest.split(':')[1]}", data) for digest, data in blobs.items()]
    return tar_of(entries)


def oci_image(layer: bytes, *, lie_about_layer: bool = False, drop_layer: bool = False) -> bytes:
    blob = gzip.compress(layer, mtime=0)
    config = config_for([layer])
    layer_digest = sha256(blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest,
                    "size": len(blob),
                }
            ],
        }
    ).encode()
    blobs = {sha256(config): config, sha256(manifest): manifest}
    if not drop_layer:
        blobs[layer_digest] = gzip.compress(layer + b"tampered", mtime=0) if lie_about_layer else blob
    return oci_archive(blobs, sha256(manifest), len(manifest))


def truncated_gzip() -> bytes:
    whole = gzip.compress(docker_archive([layer_tar({"bin/sh": b"x" * 5000})]), mtime=0)
    return whole[: len(whole) // 2]


def layer_with(entries: list[Entry]) -> bytes:
    return tar_of(entries)


@dataclass(frozen=True)
class Case:
    make: Callable[[], bytes]
    expected: tuple[str, ...]  # fragments of the message


CORPUS: dict[str, Case] = {
    "dot-dot name": Case(
        lambda: docker_archive([layer_tar({"a": b"1"})], extra=[("../escaped", b"x")]),
        ("'../escaped'", "outside"),
    ),
    "absolute name": Case(
        lambda: docker_archive([layer_tar({"a": b"1"})], extra=[("/etc/cron.d/evil", b"x")]),
        ("'/etc/cron.d/evil'", "absolute"),
    ),
    "symlink then a file through it": Case(
        lambda: docker_archive([layer_tar({"a": b"1"})], extra=[link("dir", "layer0"), ("dir/evil", b"x")]),
        ("'dir/evil'", "through the symlink 'dir'"),
    ),
    "symlink out of the archive": Case(
        lambda: docker_archive([layer_tar({"a": b"1"})], extra=[link("out", "../../etc")]),
        ("'out'", "outside the archive"),
    ),
    "hardlink to outside": Case(
        lambda: docker_archive(
            [layer_tar({"a": b"1"})], extra=[link("passwd", "../../etc/passwd", tarfile.LNKTYPE)]
        ),
        ("'passwd'", "'..'"),
    ),
    "wrong digest": Case(
        lambda: oci_image(layer_tar({"a": b"1"}), lie_about_layer=True),
        ("layer 'blobs/sha256/", "has the digest"),
    ),
    "truncated gzip": Case(truncated_gzip, ("truncated or corrupt",)),
    "manifest not JSON": Case(
        lambda: tar_of([("manifest.json", b"[{not json")]), ("manifest 'manifest.json'", "not valid JSON")
    ),
    "missing layer file": Case(
        lambda: tar_of(
            [
                (f"{sha256(config_for([b'']))[7:]}.json", config_for([b""])),
                (
                    "manifest.json",
                    json.dumps(
                        [{"Config": f"{sha256(config_for([b'']))[7:]}.json", "Layers": ["gone/layer.tar"]}]
                    ).encode(),
                ),
            ]
        ),
        ("layer 'gone/layer.tar'", "missing"),
    ),
    "missing blob": Case(
        lambda: oci_image(layer_tar({"a": b"1"}), drop_layer=True), ("layer 'blobs/sha256/", "missing")
    ),
    "diff_id mismatch": Case(
        lambda: docker_archive([layer_tar({"a": b"1"})], diff_ids=[sha256(b"another layer")]),
        ("layer 'layer0/layer.tar'", "unpacks to diff_id", sha256(b"another layer")),
    ),
    "config with a wrong name": Case(
        lambda: tar_of(
            [
                ("0" * 64 + ".json", config_for([])),
                ("manifest.json", json.dumps([{"Config": "0" * 64 + ".json", "Layers": []}]).encode()),
            ]
        ),
        ("config '" + "0" * 64 + ".json'", "has the digest"),
    ),
    "neither docker nor OCI": Case(lambda: tar_of([("hello.txt", b"hi")]), ("neither manifest.json",)),
    "not a tar at all": Case(lambda: b"this is not an archive" * 100, ("truncated or corrupt",)),
    # tarfile's stream mode skips an entry's data by reading it: a declared size of 2**62 bytes must end in
    # an error, not in reading nothing for ever ("./" is an entry that is not copied).
    "entry declaring more than the archive holds": Case(
        lambda: tar_of([sized("./", 1 << 62)]), ("declares more bytes than the archive holds",)
    ),
    "layer entry declaring more than the layer holds": Case(
        lambda: docker_archive([layer_with([sized("./", 1 << 62)])]), ("more bytes than the archive holds",)
    ),
    "sparse entry of exabytes of holes": Case(
        lambda: tar_of([sized("manifest.json", 1 << 62, tarfile.GNUTYPE_SPARSE)]),
        ("'manifest.json' is a sparse file",),
    ),
    "layer entry with ../": Case(
        lambda: docker_archive([layer_with([("../../etc/cron.d/evil", b"x")])]),
        ("layer 'layer0/layer.tar'", "'../../etc/cron.d/evil'", "'..'"),
    ),
    "layer entry with an absolute name": Case(
        lambda: docker_archive([layer_with([("/etc/passwd", b"x")])]), ("'/etc/passwd'", "absolute")
    ),
    "layer symlink then a file through it": Case(
        lambda: docker_archive([layer_with([link("lib", "/etc"), ("lib/passwd", b"root::0:0::/:/bin/sh")])]),
        ("'lib/passwd'", "through the symlink 'lib'"),
    ),
    "layer hardlink to outside": Case(
        lambda: docker_archive([layer_with([link("shadow", "../../etc/shadow", tarfile.LNKTYPE)])]),
        ("'shadow'", "hard link", "outside the layer"),
    ),
    "truncated layer": Case(
        lambda: docker_archive([gzip.compress(layer_tar({"big": bytes(range(256)) * 100}), mtime=0)[:300]]),
        ("layer 'layer0/layer.tar'", "truncated or corrupt"),
    ),
}


@pytest.fixture
def populated(root: Path) -> Path:
    with Store.open(root) as store:
        add_image(store, [{"bin/sh": b"#!"}], ["kept:1"])
    return root


def images_output(root: Path) -> str:
    return run_cli(root, "images", "-a", "--digests", "--no-trunc").output


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_archive_is_refused_and_the_store_is_unchanged(
    name: str, populated: Path, tmp_path: Path
) -> None:
    case = CORPUS[name]
    archive = tmp_path / "evil.tar"
    archive.write_bytes(case.make())
    before = (store_listing(populated), images_output(populated))

    result = CliRunner().invoke(cli, ["--root", str(populated), "load", "-i", str(archive)])

    assert isinstance(result.exception, ArchiveError), (result.output, result.exception)
    message = str(result.exception)
    assert message.startswith(f"{archive}: "), message
    for fragment in CORPUS[name].expected:
        assert fragment in message, message
    assert (store_listing(populated), images_output(populated)) == before
    assert "evil" not in images_output(populated)


def test_the_corpus_is_otherwise_loadable(populated: Path, tmp_path: Path) -> None:
    """The corpus builders make loadable archives when nothing is wrong: the refusals above are for the flaw."""
    archive = tmp_path / "fine.tar"
    archive.write_bytes(docker_archive([layer_tar({"a": b"1"})], extra=[link("alias", "layer0/layer.tar")]))
    assert run_cli(populated, "load", "-i", str(archive)).output == "Loaded image: evil:latest\n"
    archive.write_bytes(oci_image(layer_tar({"b": b"2"})))
    assert run_cli(populated, "load", "-i", str(archive)).output == "Loaded image: evil:latest\n"
