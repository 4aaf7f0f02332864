"""Layers with everything only root can make: device nodes, fifos, ownership, security.capability, overlay
whiteouts from a real overlayfs upper dir, and snapshots that overlayfs mounts as an image's root."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from _layer_trees import describe, xattrs_of
from slipway.image.layers import pack_layer, unpack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    Descriptor,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
    sha256_digest,
)
from slipway.store import Store
from slipway.worker.snapshots import mounted

pytestmark = pytest.mark.root

# cap_net_bind_service=+ep, as `setcap` writes it (VFS_CAP_REVISION_2).
CAPABILITY = bytes.fromhex("0100000200040000000000000000000000000000")


def make_full_tree(root: Path) -> Path:
    (root / "usr" / "bin").mkdir(parents=True)
    server = root / "usr" / "bin" / "server"
    server.write_bytes(b"\x7fELF server")
    os.chown(server, 1000, 1001)
    server.chmod(0o4750)  # after chown, which clears setuid
    os.setxattr(server, "security.capability", CAPABILITY)
    os.setxattr(server, "user.origin", b"built\xff")
    os.link(server, root / "usr" / "bin" / "server-again")
    (root / "dev").mkdir()
    os.mknod(root / "dev" / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(root / "dev" / "loop0", stat.S_IFBLK | 0o660, os.makedev(7, 0))
    os.mkfifo(root / "dev" / "initctl", 0o600)
    os.chown(root / "dev" / "loop0", 0, 6)
    os.symlink("/proc/self/fd", root / "dev" / "fd")
    os.lchown(root / "dev" / "fd", 0, 5)
    (root / "tmp").mkdir(mode=0o1777)
    (root / "tmp").chmod(0o1777)
    (root / "home" / "user").mkdir(parents=True)
    os.chown(root / "home" / "user", 1000, 1000)
    os.mknod(root / "deleted-file", stat.S_IFCHR, os.makedev(0, 0))  # an overlay whiteout
    (root / "replaced-dir").mkdir()
    os.setxattr(root / "replaced-dir", "trusted.overlay.opaque", b"y")
    (root / "replaced-dir" / "new").write_text("only this")
    return root


def pack_bytes(directory: Path, compression: str = "gzip") -> tuple[bytes, object]:
    out = io.BytesIO()
    info = pack_layer(directory, out, compression=compression)  # type: ignore[arg-type]
    return out.getvalue(), info


def test_pack_writes_ownership_devices_xattrs_and_oci_whiteouts(tmp_path: Path) -> None:
    blob, _ = pack_bytes(make_full_tree(tmp_path / "tree"), "none")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        members = {member.name: member for member in tar.getmembers()}
    server = members["usr/bin/server"]
    assert (server.uid, server.gid, server.mode) == (1000, 1001, 0o4750)
    assert (
        server.pax_headers["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape")
        == CAPABILITY
    )
    assert members["usr/bin/server-again"].islnk()
    assert members["dev/null"].ischr() and (members["dev/null"].devmajor, members["dev/null"].devminor) == (
        1,
        3,
    )
    assert members["dev/loop0"].isblk() and members["dev/loop0"].gid == 6
    assert members["dev/initctl"].isfifo()
    assert members["tmp"].mode == 0o1777
    assert members[".wh.deleted-file"].isreg() and members[".wh.deleted-file"].size == 0
    assert "deleted-file" not in members
    assert members["replaced-dir/.wh..wh..opq"].isreg()
    assert not any("trusted.overlay" in key for member in members.values() for key in member.pax_headers)
    names = list(members)
    assert names.index("replaced-dir/.wh..wh..opq") == names.index("replaced-dir") + 1


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_round_trip_keeps_everything(tmp_path: Path, compression: str) -> None:
    tree = make_full_tree(tmp_path / "tree")
    blob, info = pack_bytes(tree, compression)
    dest = tmp_path / "snapshot"
    assert (
        unpack_layer(io.BytesIO(blob), info.descriptor.media_type, dest, whiteouts="overlay") == info.diff_id
    )  # type: ignore[attr-defined]
    assert describe(dest) == describe(tree)
    assert xattrs_of(dest / "replaced-dir") == (("trusted.overlay.opaque", b"y"),)
    assert os.stat(dest / "usr" / "bin" / "server").st_mode & 0o7777 == 0o4750
    assert pack_bytes(dest, compression) == (blob, info)


@contextmanager
def overlay(lower: list[Path], upper: Path, work: Path, merged: Path) -> Iterator[Path]:
    merged.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={':'.join(map(str, lower))},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        yield merged
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_a_real_overlay_upper_dir_packs_as_an_oci_diff(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root:x:0:0\n")
    (lower / "etc" / "shadow").write_text("root:*:\n")
    (lower / "cache" / "sub").mkdir(parents=True)
    (lower / "cache" / "sub" / "old").write_text("old")
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    with overlay([lower], upper, work, tmp_path / "merged") as merged:  # what a RUN does
        (merged / "etc" / "shadow").unlink()
        subprocess.run(["rm", "-rf", str(merged / "cache")], check=True)
        (merged / "cache").mkdir()
        (merged / "cache" / "fresh").write_text("fresh")
        (merged / "etc" / "passwd").write_text("root:x:0:0\nuser:x:1000:1000\n")
    blob, _ = pack_bytes(upper, "none")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        names = tar.getnames()
    assert "etc/.wh.shadow" in names
    assert "etc/passwd" in names
    assert "cache/.wh..wh..opq" in names and "cache/fresh" in names
    assert not any(name.startswith("cache/sub") for name in names)


def test_snapshots_of_an_image_mount_as_its_root(tmp_path: Path) -> None:
    base_tree = tmp_path / "base"
    (base_tree / "etc").mkdir(parents=True)
    (base_tree / "etc" / "keep").write_text("keep")
    (base_tree / "etc" / "remove-me").write_text("x")
    (base_tree / "data" / "old").mkdir(parents=True)
    (base_tree / "data" / "old" / "file").write_text("old")
    top_tree = tmp_path / "top"
    (top_tree / "etc").mkdir(parents=True)
    os.mknod(top_tree / "etc" / "remove-me", stat.S_IFCHR, os.makedev(0, 0))
    (top_tree / "data").mkdir()
    os.setxattr(top_tree / "data", "trusted.overlay.opaque", b"y")
    (top_tree / "data" / "new").write_text("new")
    with Store.open(tmp_path / "root") as store:
        layers = []
        for tree in (base_tree, top_tree):
            with store.blobs.ingest() as writer:
                layers.append(pack_layer(tree, writer))
        config = ImageConfig(
            architecture="amd64", os="linux", rootfs=RootFS(diff_ids=tuple(layer.diff_id for layer in layers))
        )
        config_bytes = encode_json(config)
        manifest = Manifest(
            config=Descriptor(
                media_type=MEDIA_OCI_CONFIG, digest=sha256_digest(config_bytes), size=len(config_bytes)
            ),
            layers=tuple(layer.descriptor for layer in layers),
        )
        image = store.images.add(manifest, config, ["two-layers"])
        top = store.snapshots.unpack_image(image)
        assert top is not None
        chain = store.snapshots.chain(top.id)
        assert stat.S_ISCHR(os.lstat(chain[1].path / "etc" / "remove-me").st_mode)
        plan = store.snapshots.prepare("scratch", top.id)  # a step on the image, as the solver mounts it
        with mounted(plan, tmp_path / "rootfs", ledger=store.leases) as rootfs:
            seen = sorted(str(path.relative_to(rootfs)) for path in rootfs.rglob("*"))
        assert seen == ["data", "data/new", "etc", "etc/keep"]
        store.snapshots.remove("scratch")
