"""The base images BuildKit's Dockerfile tests pull (busybox:latest, alpine:latest), made here without a network.

BuildKit's suite mirrors the official images; these stand-ins are laid out as those are where the tests look:
- busybox: /bin/busybox with every applet as a hard link in /bin (as `busybox --install` makes them), the
  buildroot skeleton's /etc/passwd, /etc/group and /etc/shadow, /tmp 1777, /root 0700, the users' home
  directories, /usr/bin/env; config Env PATH and Cmd ["sh"], two history entries (the rootfs, then CMD).
- alpine: the same binary as symlinks (as Alpine links its applets), Alpine's users and groups and
  /etc/alpine-release; config Cmd ["/bin/sh"]. No apk: tests that install packages are not portable.
The host's busybox-static has no `adduser`, which the official images have as an applet; a small script does
what `adduser -D NAME` does there (next free uid from 1000, a group of the same name and id, a home dir).

Each image is written as a `docker save` archive (config, manifest.json, one layer) and loaded with
`slipway load`, so its config and history are the official image's shape, not what `slipway import` makes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
# Debian's busybox-static for arm64, unpacked there by scripts/setup (scripts/foreign-busybox): the arm64
# busybox image of the multi-platform tests, whose RUN steps run under qemu-user-static.
ARM64_BUSYBOX = Path("/usr/local/lib/slipway-tests/arm64/busybox")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Fixed times keep the archives (and so the image IDs) the same on every run.
EPOCH = "2024-09-26T21:31:42Z"

BUSYBOX_PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
BUSYBOX_GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nobody:x:65534:
"""
ALPINE_PASSWD = """\
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
"""
ALPINE_GROUP = """\
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin
adm:x:4:root,daemon
tty:x:5:
disk:x:6:root
lp:x:7:lp
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
cron:x:16:cron
console:x:17:
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
tape:x:26:root
video:x:27:root
netdev:x:28:
kvm:x:34:kvm
games:x:35:
shadow:x:42:
www-data:x:82:
users:x:100:games
ntp:x:123:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
"""
# What busybox's `adduser -D NAME` does (the applet is missing from Debian's busybox-static).
ADDUSER = """\
#!/bin/sh
# adduser [-D] [-H] [-u UID] [-G GROUP] [-h HOME] [-s SHELL] NAME (the options busybox's adduser takes)
home= shell=/bin/sh uid= group= nohome=
while [ $# -gt 1 ]; do
\tcase "$1" in
\t-D) ;;
\t-H) nohome=1 ;;
\t-u) uid=$2; shift ;;
\t-G) group=$2; shift ;;
\t-h) home=$2; shift ;;
\t-s) shell=$2; shift ;;
\t*) echo "adduser: unknown option $1" >&2; exit 1 ;;
\tesac
\tshift
done
name=$1
[ -n "$name" ] || { echo "usage: adduser [-D] NAME" >&2; exit 1; }
if grep -q "^$name:" /etc/passwd; then echo "adduser: user '$name' in use" >&2; exit 1; fi
if [ -z "$uid" ]; then
\tuid=1000
\twhile cut -d: -f3 /etc/passwd | grep -qx "$uid" || cut -d: -f3 /etc/group | grep -qx "$uid"; do
\t\tuid=$((uid + 1))
\tdone
fi
if [ -n "$group" ]; then
\tgid=$(grep "^$group:" /etc/group | cut -d: -f3)
else
\tgid=$uid
\techo "$name:x:$gid:" >> /etc/group
fi
home=${home:-/home/$name}
echo "$name:x:$uid:$gid:Linux User,,,:$home:$shell" >> /etc/passwd
echo "$name:!:0:0:99999:7:::" >> /etc/shadow
if [ -z "$nohome" ]; then mkdir -p "$home" && chown "$uid:$gid" "$home" && chmod 755 "$home"; fi
"""


@dataclass(frozen=True)
class BaseImage:
    name: str
    passwd: str
    group: str
    applets_as_symlinks: bool
    cmd: tuple[str, ...]
    history: str
    extra_files: tuple[tuple[str, str], ...] = ()
    binary: Path = BUSYBOX
    architecture: str = "amd64"
    variant: str | None = None


BUSYBOX_IMAGE = BaseImage(
    name="busybox:latest",
    passwd=BUSYBOX_PASSWD,
    group=BUSYBOX_GROUP,
    applets_as_symlinks=False,
    cmd=("sh",),
    history="BusyBox 1.37.0 (glibc), Debian 13",
)
ALPINE_IMAGE = BaseImage(
    name="alpine:latest",
    passwd=ALPINE_PASSWD,
    group=ALPINE_GROUP,
    applets_as_symlinks=True,
    cmd=("/bin/sh",),
    history="ADD alpine-minirootfs-3.22.1-x86_64.tar.gz / # buildkit",
    extra_files=(
        ("etc/alpine-release", "3.22.1\n"),
        ("etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.22.1\n'),
    ),
)


def arm64_image(image: BaseImage) -> BaseImage:
    """`image` made of the arm64 busybox: the same name, for linux/arm64 (a store keeps both platforms)."""
    if not ARM64_BUSYBOX.is_file():
        raise FileNotFoundError(f"{ARM64_BUSYBOX} is missing: run scripts/setup (scripts/foreign-busybox)")
    return dataclasses.replace(image, binary=ARM64_BUSYBOX, architecture="arm64", variant="v8")


def applets() -> list[str]:
    listed = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout
    return sorted({name for name in listed.split() if name and "/" not in name and name != "busybox"})


def layer_tar(image: BaseImage) -> bytes:
    """The image's one layer: a rootfs tar with numeric owners, entries in a fixed order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def directory(path: str, mode: int = 0o755, owner: int = 0) -> None:
            info = tarfile.TarInfo(path)
            info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, mode, owner, owner, 0
            tar.addfile(info)

        def regular(path: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))

        def link(path: str, target: str, hard: bool) -> None:
            info = tarfile.TarInfo(path)
            info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
            info.linkname, info.mode, info.mtime = target, 0o755 if hard else 0o777, 0
            tar.addfile(info)

        for path in ("bin", "dev", "etc", "home", "lib", "proc", "sys", "usr", "usr/bin", "usr/sbin", "var"):
            directory(path)
        directory("root", 0o700)
        directory("tmp", 0o1777)
        directory("var/spool")
        directory("var/spool/mail")
        directory("var/www", owner=33)
        # The applet list is the host busybox's: Debian ships one busybox version for every architecture.
        regular("bin/busybox", image.binary.read_bytes(), 0o755)
        for applet in applets():
            if image.applets_as_symlinks:
                link(f"bin/{applet}", "busybox", hard=False)
            else:  # as `busybox --install` leaves them
                link(f"bin/{applet}", "bin/busybox", hard=True)
        regular("bin/adduser", ADDUSER.encode(), 0o755)
        regular("etc/passwd", image.passwd.encode())
        regular("etc/group", image.group.encode())
        shadow = "".join(f"{line.split(':')[0]}:*:::::::\n" for line in image.passwd.splitlines())
        regular("etc/shadow", shadow.encode(), 0o600)
        for path, text in image.extra_files:
            regular(path, text.encode())
        link("usr/bin/env", "../../bin/env", hard=False)
    return buffer.getvalue()


def docker_archive(image: BaseImage, destination: Path) -> Path:
    """A `docker save` archive of the image: what `slipway load` reads."""
    layer = layer_tar(image)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": image.architecture,
        **({"variant": image.variant} if image.variant else {}),
        "os": "linux",
        "created": EPOCH,
        "config": {"Env": [DEFAULT_PATH], "Cmd": list(image.cmd)},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [
            {"created": EPOCH, "created_by": image.history},
            {
                "created": EPOCH,
                "created_by": "CMD " + json.dumps(list(image.cmd)) + " # buildkit",
                "comment": "buildkit.dockerfile.v0",
                "empty_layer": True,
            },
        ],
    }
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [image.name], "Layers": ["layer.tar"]}]
    with tarfile.open(destination, "w") as tar:
        for name, data in (
            (config_name, config_bytes),
            ("layer.tar", layer),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return destination


# testInvalidDefaultArgInFrom builds FROM busybox:stable${BUSYBOX_VARIANT} with BUSYBOX_VARIANT=-musl.
ALIASES = (("busybox:latest", "busybox:stable-musl"),)


def make_template_store(slipway_argv: list[str], root: Path, work: Path) -> Path:
    """A store root holding busybox:latest and alpine:latest, to be copied for each test that needs its own."""
    for image in (BUSYBOX_IMAGE, ALPINE_IMAGE):
        load_image(slipway_argv, root, image, work)
    for alias in ALIASES:  # tags BuildKit's tests pull that the stand-ins answer for
        tagged = subprocess.run(
            [*slipway_argv, "--root", str(root), "tag", *alias], capture_output=True, text=True, check=False
        )
        assert tagged.returncode == 0, tagged.stderr
    return root


def load_image(slipway_argv: list[str], root: Path, image: BaseImage, work: Path) -> None:
    """Load `image` into the store at `root` (as a `docker save` archive: its config as the official one's)."""
    archive = docker_archive(image, work / (image.name.split(":")[0] + f"-{image.architecture}.tar"))
    loaded = subprocess.run(
        [*slipway_argv, "--root", str(root), "load", "-q", "-i", str(archive)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    archive.unlink()


def copy_store(template: Path, destination: Path) -> Path:
    """A store of a test's own: a copy of the template (faster than loading both images again)."""
    shutil.copytree(template, destination, symlinks=True)
    os.chmod(destination, 0o700)
    return destination
