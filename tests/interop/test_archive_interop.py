"""slipway's archives against the real tools: docker load/save/run, skopeo and umoci.

A private dockerd (own data root, exec root, socket and pid file; no bridge, no iptables) runs once for the
session and is stopped by its PID. Images are made from busybox-static: /bin/busybox and a few symlinks in
a rootfs tar, imported with `slipway import` (and `docker import` for the other direction).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import prerequisites
from slipway.image.layers import LayerInfo, unpack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER_GZIP,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    DiffID,
    History,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
    sha256_digest,
)
from slipway.store import Store

pytestmark = [pytest.mark.interop, pytest.mark.root]

DOCKER = Path("/usr/bin/docker")
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "echo", "ls", "cat")


@dataclass(frozen=True)
class Dockerd:
    socket: Path

    def run(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:  # noqa: A002
        argv = [str(DOCKER), "-H", f"unix://{self.socket}", *args]
        result = subprocess.run(argv, input=input, capture_output=True, timeout=180, check=False)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{argv} failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
            )
        return result


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    for tool, package in (("dockerd", "docker.io"), ("skopeo", "skopeo"), ("umoci", "umoci")):
        prerequisites.require_tool(tool, package)
    directory = tmp_path_factory.mktemp("dockerd")
    daemon = Dockerd(socket=directory / "docker.sock")
    argv = [
        "dockerd", "--data-root", str(directory / "data"), "--exec-root", str(directory / "exec"),
        "-H", f"unix://{daemon.socket}", "--pidfile", str(directory / "docker.pid"),
        "--bridge=none", "--iptables=false", "--ip6tables=false",
    ]  # fmt: skip
    with open(directory / "dockerd.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(120):
            if process.poll() is not None:
                pytest.fail(f"dockerd exited: see {directory / 'dockerd.log'}")
            if daemon.socket.exists() and daemon.run("version", check=False).returncode == 0:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"dockerd did not answer on {daemon.socket}: see {directory / 'dockerd.log'}")
        yield daemon
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rootfs tar: /bin/busybox (static) and symlinks to it, /etc/motd, /tmp."""
    prerequisites.require_file(BUSYBOX, "busybox-static")
    path = tmp_path_factory.mktemp("rootfs") / "busybox-rootfs.tar"
    with tarfile.open(path, "w") as tar:
        for name, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777)):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(BUSYBOX, "bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(info)
        motd = b"built by slipway\n"
        info = tarfile.TarInfo("etc/motd")
        info.size = len(motd)
        tar.addfile(info, io.BytesIO(motd))
    return path


def slipway(root: Path, *args: str, input: bytes | None = None) -> str:  # noqa: A002
    argv = [sys.executable, "-m", "slipway", "--root", str(root), *args]
    result = subprocess.run(argv, input=input, capture_output=True, timeout=180, check=False)
    assert result.returncode == 0, f"{argv}: {result.stderr.decode(errors='replace')}"
    return result.stdout.decode()


def test_docker_loads_and_runs_an_image_slipway_saved(
    dockerd: Dockerd, busybox_rootfs: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    image_id = slipway(root, "import", "-c", 'CMD ["/bin/sh"]', str(busybox_rootfs), "slipway-box:1").strip()
    archive = tmp_path / "box.tar"
    slipway(root, "save", "-o", str(archive), "slipway-box:1")

    loaded = dockerd.run("load", "-i", str(archive)).stdout.decode()
    assert "Loaded image: slipway-box:1" in loaded
    ran = dockerd.run("run", "--rm", "--network", "none", "slipway-box:1", "/bin/sh", "-c", "echo hi")
    assert ran.stdout == b"hi\n"
    # The config went in byte for byte: docker's image ID is slipway's, and so are the diff_ids.
    [inspected] = json.loads(dockerd.run("image", "inspect", "slipway-box:1").stdout)
    [ours] = json.loads(slipway(root, "inspect", "slipway-box:1"))
    assert inspected["Id"] == image_id == ours["Id"]
    assert inspected["RootFS"]["Layers"] == ours["RootFS"]["Layers"]
    assert inspected["Config"]["Cmd"] == ["/bin/sh"]


def test_slipway_loads_what_docker_saved(dockerd: Dockerd, busybox_rootfs: Path, tmp_path: Path) -> None:
    dockerd.run(
        "import", "-c", "ENV GREETING=hello", "-c", 'CMD ["/bin/sh"]', str(busybox_rootfs), "docker-box:1"
    )
    archive = tmp_path / "docker-box.tar"
    dockerd.run("save", "-o", str(archive), "docker-box:1")
    [theirs] = json.loads(dockerd.run("image", "inspect", "docker-box:1").stdout)

    root = tmp_path / "root"
    assert slipway(root, "load", "-i", str(archive)) == "Loaded image: docker-box:1\n"
    [ours] = json.loads(slipway(root, "inspect", "docker-box:1"))
    assert ours["Id"] == theirs["Id"]
    assert ours["RootFS"]["Layers"] == theirs["RootFS"]["Layers"]
    assert (ours["Config"]["Env"], ours["Config"]["Cmd"]) == (
        theirs["Config"]["Env"],
        theirs["Config"]["Cmd"],
    )
    assert (ours["Architecture"], ours["Os"], ours["Created"]) == (
        theirs["Architecture"],
        theirs["Os"],
        theirs["Created"],
    )

    # Compressed on stdin, into another store: the same image again.
    other = tmp_path / "other"
    assert slipway(other, "load", input=gzip.compress(archive.read_bytes())) == "Loaded image: docker-box:1\n"
    assert slipway(other, "images", "-q", "--no-trunc") == theirs["Id"] + "\n"


def two_layer_image(store: Store, base_id: str) -> str:
    """busybox plus a layer that adds /etc/app.conf, replaces /etc/motd and whites out /bin/cat."""
    base = store.images.resolve(base_id)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (
            ("etc/app.conf", b"mode=test\n"),
            ("etc/motd", b"second layer\n"),
            ("bin/.wh.cat", b""),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o640 if name == "etc/app.conf" else 0o644
            tar.addfile(info, io.BytesIO(data))
    plain = out.getvalue()
    blob = gzip.compress(plain, mtime=0)
    layer = LayerInfo(
        diff_id=DiffID(sha256_digest(plain)),
        descriptor=Descriptor(media_type=MEDIA_OCI_LAYER_GZIP, digest=store.blobs.put(blob), size=len(blob)),
        uncompressed_size=len(plain),
    )
    store.images.record_layer(layer)
    config = ImageConfig(
        architecture=base.config.architecture,
        os="linux",
        config=base.config.config,
        rootfs=RootFS(diff_ids=(*base.config.rootfs.diff_ids, layer.diff_id)),
        history=(*base.config.history, History(created_by="COPY app.conf /etc/")),
    )
    data = encode_json(config)
    manifest = Manifest(
        config=Descriptor(media_type=MEDIA_OCI_CONFIG, digest=store.blobs.put(data), size=len(data)),
        layers=(*base.manifest.layers, layer.descriptor),
        media_type=MEDIA_OCI_MANIFEST,
    )
    return store.images.add(manifest, config, ["app:1"]).id


def tree(directory: Path) -> dict[str, tuple[str, int, int | str]]:
    """path -> (type, permission bits, size or link target): what two unpacks must agree on."""
    found: dict[str, tuple[str, int, int | str]] = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        name = str(path.relative_to(directory))
        if stat.S_ISLNK(info.st_mode):
            found[name] = ("symlink", stat.S_IMODE(info.st_mode), os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            found[name] = ("dir", stat.S_IMODE(info.st_mode), 0)
        else:
            found[name] = ("file", stat.S_IMODE(info.st_mode), info.st_size)
    return found


def test_skopeo_and_umoci_read_the_oci_archive(busybox_rootfs: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    base_id = slipway(root, "import", str(busybox_rootfs), "box:1").strip()
    with Store.open(root) as store:
        image = store.images.resolve(two_layer_image(store, base_id))
    archive = tmp_path / "app.oci.tar"
    slipway(root, "save", "--format", "oci", "-o", str(archive), "app:1")

    inspected = json.loads(subprocess.run(
        ["skopeo", "inspect", f"oci-archive:{archive}"], capture_output=True, check=True, timeout=120
    ).stdout)  # fmt: skip
    assert inspected["Digest"] == image.manifest_digest
    assert inspected["Layers"] == [layer.digest for layer in image.manifest.layers]
    assert inspected["Architecture"] == image.config.architecture

    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(layout, filter="data")
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:1", str(bundle)],
        capture_output=True,
        check=True,
        timeout=120,
    )

    ours = tmp_path / "ours"
    ours.mkdir()
    with Store.open(root) as store:
        for layer in image.manifest.layers:
            with store.blobs.open(layer.digest) as blob:
                unpack_layer(blob, layer.media_type, ours, whiteouts="apply")
    theirs = tree(bundle / "rootfs")
    assert theirs == tree(ours)
    assert theirs["etc/app.conf"] == ("file", 0o640, len(b"mode=test\n"))
    assert theirs["bin/sh"] == ("symlink", 0o777, "busybox")
    assert "bin/cat" not in theirs and (bundle / "rootfs" / "etc" / "motd").read_bytes() == b"second layer\n"
