"""Fixtures for the end-to-end tests of `slipway build` and `slipway run`.

The tests drive the real `slipway` command as a subprocess, as root, each against a store root under a tmp
dir, and check what a user checks: `slipway inspect`, `slipway images`, what `slipway run` prints and the
files of an image. Base images are made here from the host's static busybox (and, for the seed example,
the host's Go toolchain) and imported with `slipway import`, once per session.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import prerequisites
from loopback_server import serving_directory
from rootless_user import User, command_as, slipway_command, unprivileged_user

REPO = Path(__file__).resolve().parents[2]
BUSYBOX = Path("/bin/busybox")
GO_ROOT = Path("/usr/lib/go-1.19")
# PATH as the official busybox image sets it.
BUSYBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GO_ENV = "ENV PATH=/usr/local/go/bin:/bin:/usr/bin GOCACHE=/tmp/gocache CGO_ENABLED=0 HOME=/root"
# Only what `go build` of a plain program needs: the std sources and the compiler tools. The prebuilt
# pkg/linux_amd64 (239 MB) is skipped: compiling fmt and runtime from source costs a few seconds, while
# importing, snapshotting and layering those bytes through every pass of the test costs much more.
GO_TOOLS = ("asm", "buildid", "cgo", "compile", "link", "pack")
COMMAND_TIMEOUT = 300
SLIPWAY_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


def slipway_argv() -> list[str]:
    found = shutil.which("slipway")
    return [found] if found else [sys.executable, "-m", "slipway"]


@dataclass(frozen=True)
class Slipway:
    """The `slipway` command bound to one store root."""

    root: Path

    def argv(self, *args: str) -> list[str]:
        return [*slipway_argv(), "--root", str(self.root), *args]

    def __call__(
        self,
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **env} if env else None,
            check=False,
        )

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command that must succeed; a failure shows its output."""
        result = self(*args, **kwargs)
        assert result.returncode == 0, describe(result)
        return result

    def build(self, context: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self("build", "--progress", "plain", *args, str(context), **kwargs)

    def build_ok(self, context: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = self.build(context, *args, **kwargs)
        assert result.returncode == 0, describe(result)
        return result

    def inspect(self, ref: str) -> dict[str, Any]:
        result = self.ok("inspect", ref)
        documents = json.loads(result.stdout)
        assert isinstance(documents, list) and len(documents) == 1, result.stdout
        document: dict[str, Any] = documents[0]
        return document

    def config(self, ref: str) -> dict[str, Any]:
        """The `Config` object of `slipway inspect`, as `docker image inspect` shows it."""
        config: dict[str, Any] = self.inspect(ref)["Config"]
        return config

    def run_output(self, ref: str, *command: str) -> str:
        """What `slipway run REF COMMAND...` prints on stdout (it must succeed)."""
        return self.ok("run", "--rm", ref, *command).stdout

    def images(self) -> list[ImageRow]:
        return parse_images_table(self.ok("images").stdout)

    def image_id(self, ref: str) -> str:
        image_id: str = self.inspect(ref)["Id"]
        return image_id

    def saved_layers(self, ref: str, work: Path) -> list[bytes]:
        """The uncompressed layer tars of `slipway save REF`, bottom first."""
        archive = work / f"save-{re.sub(r'[^a-z0-9]+', '-', ref)}.tar"
        self.ok("save", "-o", str(archive), ref)
        try:
            return saved_layers(archive)
        finally:
            archive.unlink()

    def image_tree(self, ref: str, work: Path) -> dict[str, Entry]:
        """The image's file tree (its layers applied in order, whiteouts honoured) from `slipway save`."""
        return flatten_layers(self.saved_layers(ref, work))

    @staticmethod
    def layer_members(layer: bytes) -> list[tarfile.TarInfo]:
        return layer_members(layer)


@dataclass(frozen=True)
class RootlessSlipway(Slipway):
    """The `slipway` command run by an unprivileged user (tests/rootless_user.py), on a store of theirs."""

    user: User

    def argv(self, *args: str) -> list[str]:
        # The command's environment (`env=`) reaches slipway through the launcher (rootless_user.PASSED_ON).
        return command_as(self.user, [*slipway_command(), "--root", str(self.root), *args])

    def build(self, context: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """As root's, on a copy of the context that the user can read (paths into it in `args` follow)."""
        cwd = kwargs.pop("cwd", None)
        source = context if context.is_absolute() else (cwd or Path.cwd()) / context
        given = self.give(source)
        args = tuple(arg.replace(str(source), str(given)) for arg in args)
        return super().build(given, *args, **kwargs)

    def saved_layers(self, ref: str, work: Path) -> list[bytes]:
        """As root's, saved where the user may write (their home)."""
        return super().saved_layers(ref, self.user.home)

    def give(self, path: Path) -> Path:
        """Copy `path` (a file or a tree) into the user's home, theirs to read; the copy's path. A path in
        their home already is given as it is."""
        if path.is_relative_to(self.user.home):
            return path
        (self.user.home / "given").mkdir(exist_ok=True)
        target = Path(tempfile.mkdtemp(dir=self.user.home / "given")) / path.name
        if path.is_dir():
            shutil.copytree(path, target, symlinks=True)
        else:
            shutil.copy2(path, target)
        owner = f"{self.user.uid}:{self.user.gid}"
        subprocess.run(["chown", "-R", "-h", owner, str(target.parent)], check=True)
        return target


@pytest.fixture(scope="session")
def rootless_user() -> Iterator[User]:
    """An unprivileged user with a subordinate id range, for the session (removed after)."""
    if os.geteuid() != 0:
        pytest.fail("the rootless tests make a user and need root to do it: run them as root")
    for tool in ("newuidmap", "newgidmap"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: install uidmap (scripts/setup does)")
    with unprivileged_user("slwrl") as user:
        yield user


def rootless_store(user: User, busybox_tar: Path, name: str = "store") -> RootlessSlipway:
    """A store of `user`'s (under their home) holding busybox:test, imported by them."""
    slipway = RootlessSlipway(user.home / name, user)
    import_busybox(slipway, slipway.give(busybox_tar))
    return slipway


@pytest.fixture(scope="session")
def shared_rootless_store(rootless_user: User, busybox_tar: Path) -> RootlessSlipway:
    """The rootless twin of `shared_store`: the session's unprivileged user's store, with busybox:test."""
    return rootless_store(rootless_user, busybox_tar, "shared-store")


@dataclass(frozen=True)
class ImageRow:
    repository: str
    tag: str
    image_id: str
    created: str
    size: str
    platform: str = ""  # the PLATFORM column, shown when a store holds other platforms than this machine's

    @property
    def size_bytes(self) -> float:
        return parse_human_size(self.size)


def parse_images_table(text: str) -> list[ImageRow]:
    """Rows of `slipway images` (Docker's columns: REPOSITORY TAG IMAGE ID CREATED SIZE [PLATFORM])."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and lines[0].split()[:2] == ["REPOSITORY", "TAG"], text
    rows = []
    for line in lines[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == len(lines[0].split()) - 1, f"not a row of {lines[0]!r}: {line!r}"  # IMAGE ID
        rows.append(ImageRow(*cells))
    return rows


def parse_human_size(text: str) -> float:
    """Docker's go-units HumanSize ("2.1MB", "812kB", "1.05GB": decimal units) in bytes."""
    match = re.fullmatch(r"([0-9.]+)\s*([kMGT]?B)", text.strip())
    assert match, f"not a Docker size: {text!r}"
    factor = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[match.group(2)]
    return float(match.group(1)) * factor


def describe(result: subprocess.CompletedProcess[str]) -> str:
    argv = " ".join(result.args) if isinstance(result.args, list) else str(result.args)
    return f"`{argv}` exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# -- contexts ----------------------------------------------------------------------------------------


def make_context(
    directory: Path, dockerfile: str | None, files: Mapping[str, str | bytes] | None = None
) -> Path:
    """A build context: a Dockerfile (unless None) and files (relative path -> content)."""
    directory.mkdir(parents=True, exist_ok=True)
    if dockerfile is not None:
        (directory / "Dockerfile").write_text(dockerfile)
    for name, content in (files or {}).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return directory


@pytest.fixture(name="make_context")
def make_context_fixture() -> Callable[..., Path]:
    """make_context(directory, dockerfile, files) as a fixture, for test modules (they import nothing)."""
    return make_context


# -- base images -------------------------------------------------------------------------------------


def busybox_applets() -> list[str]:
    listed = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout
    return sorted({name for name in listed.split() if name and "/" not in name and name != "busybox"})


def make_busybox_rootfs(rootfs: Path) -> Path:
    """A busybox rootfs: /bin/busybox and its applets, root and app (1000) users, /tmp 1777."""
    for directory in ("bin", "etc", "root", "tmp", "usr/bin", "var", "dev", "proc", "sys", "home/app"):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    (rootfs / "bin" / "busybox").chmod(0o755)
    for applet in busybox_applets():
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    )
    (rootfs / "etc" / "group").write_text("root:x:0:\napp:x:1000:\n")
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "root").chmod(0o700)
    os.chown(rootfs / "home" / "app", 1000, 1000)
    return rootfs


def add_go_toolchain(rootfs: Path) -> None:
    """The host's Go toolchain (Debian golang-go) as /usr/local/go, trimmed to what `go build` needs."""
    target = rootfs / "usr" / "local" / "go"
    target.mkdir(parents=True)
    shutil.copy2(GO_ROOT / "VERSION", target / "VERSION")
    shutil.copytree(GO_ROOT / "bin", target / "bin", symlinks=False)
    tools = GO_ROOT / "pkg" / "tool" / "linux_amd64"
    (target / "pkg" / "tool" / "linux_amd64").mkdir(parents=True)
    for tool in GO_TOOLS:
        shutil.copy2(tools / tool, target / "pkg" / "tool" / "linux_amd64" / tool)
    shutil.copytree((GO_ROOT / "pkg" / "include").resolve(), target / "pkg" / "include")
    # Debian links the `go` command against glibc (the compiler tools are static): bring its libraries.
    for binary in (target / "bin").iterdir():
        copy_shared_libraries(binary, rootfs)
    source = (GO_ROOT / "src").resolve()
    shutil.copytree(
        source,
        target / "src",
        ignore=lambda directory, names: [
            name
            for name in names
            if (name == "cmd" and Path(directory) == source)
            or name == "testdata"
            or name.endswith("_test.go")
        ],
    )


def copy_shared_libraries(binary: Path, rootfs: Path) -> None:
    """Copy the shared libraries `binary` loads (as ldd lists them) to the same paths inside `rootfs`."""
    listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
    for library in re.findall(r"(/\S+) \(0x", listed):
        destination = rootfs / library.lstrip("/")
        if not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(library).resolve(), destination)


def tar_directory(rootfs: Path, archive: Path) -> Path:
    """A rootfs tar with numeric owners and entries sorted, as `docker export` would give."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uname = info.gname = ""
        return info

    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(rootfs)), recursive=False, filter=clean)
    return archive


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prerequisites.require_containers()
    prerequisites.require_file(BUSYBOX, "busybox-static")
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs: Path) -> Path:
    return tar_directory(busybox_rootfs, busybox_rootfs.parent / "rootfs.tar")


def import_busybox(slipway: Slipway, busybox_tar: Path, name: str = "busybox:test") -> str:
    result = slipway.ok(
        "import", "--change", f"ENV PATH={BUSYBOX_PATH}", "--change", 'CMD ["sh"]', str(busybox_tar), name
    )
    return result.stdout.strip()


BUILDERS = ("root", "rootless")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `rootless_too` that builds in the shared store runs twice: as root, and as an ordinary user
    (rootless slipway, on the user's own store)."""
    if metafunc.definition.get_closest_marker("rootless_too") and "shared_store" in metafunc.fixturenames:
        metafunc.parametrize("shared_store", BUILDERS, indirect=True)


@pytest.fixture(scope="session")
def shared_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path
) -> Slipway:
    """A store shared by the tests that only build and read (unique image names per test), with busybox:test;
    the rootless user's for the rootless runs of tests marked `rootless_too`."""
    if getattr(request, "param", "root") == "rootless":
        rootless: Slipway = request.getfixturevalue("shared_rootless_store")
        return rootless
    slipway = Slipway(tmp_path_factory.mktemp("shared") / "store")
    import_busybox(slipway, busybox_tar)
    return slipway


@pytest.fixture
def own_store(tmp_path: Path, busybox_tar: Path) -> Iterator[Slipway]:
    """A fresh store for tests that check caching, cache mounts or failure cleanliness."""
    slipway = Slipway(tmp_path / "store")
    import_busybox(slipway, busybox_tar)
    yield slipway
    # Tests assert that nothing is left; this only keeps a failed (or force-killed) build from
    # leaving mounts on the machine after the test has reported it.
    for line in reversed(mounts_under(slipway.root)):
        subprocess.run(["umount", "--lazy", line.split()[1]], check=False, capture_output=True)


@pytest.fixture(scope="session")
def golang_tar(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rootfs tar of golang:1.24: the busybox rootfs plus the host's Go toolchain (import_golang)."""
    prerequisites.require_file(GO_ROOT / "bin" / "go", "golang-go")
    work = tmp_path_factory.mktemp("golang")
    rootfs = work / "rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    add_go_toolchain(rootfs)
    archive = tar_directory(rootfs, work / "rootfs.tar")
    shutil.rmtree(rootfs)
    return archive


def import_golang(slipway: Slipway, golang_tar: Path) -> str:
    slipway.ok("import", "--change", GO_ENV, "--change", 'CMD ["sh"]', str(golang_tar), "golang:1.24")
    return "golang:1.24"


@pytest.fixture(scope="session")
def golang_env() -> str:
    """The ENV of golang:1.24 (`slipway import --change`)."""
    return GO_ENV


@pytest.fixture(scope="session")
def golang_image(shared_store: Slipway, golang_tar: Path) -> str:
    """golang:1.24 in the shared store."""
    return import_golang(shared_store, golang_tar)


# -- what a build leaves behind ------------------------------------------------------------------------


def mounts_under(root: Path) -> list[str]:
    """Lines of /proc/mounts whose mount point lies under `root`."""
    prefix = str(root.resolve())
    found = []
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        mount_point = fields[1].replace("\\040", " ")
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            found.append(line)
    return found


def runc_containers_under(root: Path) -> list[str]:
    """runc containers whose bundle or state lives under `root`, in runc's default state dir and in any
    state dir (a dir holding <id>/state.json) the executor may have made under the store root."""
    prefix = str(root.resolve())
    runc = shutil.which("runc") or "/usr/sbin/runc"
    state_roots: list[Path | None] = [None]
    if root.exists():
        state_roots += sorted({state.parent.parent for state in root.rglob("state.json")})
    found = []
    for state_root in state_roots:
        argv = [runc] + (["--root", str(state_root)] if state_root else []) + ["list", "--format", "json"]
        listed = subprocess.run(argv, capture_output=True, text=True, check=False)
        if listed.returncode != 0 or not listed.stdout.strip():
            continue
        for container in json.loads(listed.stdout) or []:
            bundle = container.get("bundle", "")
            if state_root is not None or bundle.startswith(prefix):
                found.append(f"{container.get('id')} ({container.get('status')}, bundle {bundle})")
    return found


@dataclass(frozen=True)
class Leftovers:
    """What a finished or interrupted build must not leave on the host."""

    @staticmethod
    def mounts_under(root: Path) -> list[str]:
        return mounts_under(root)

    @staticmethod
    def runc_containers_under(root: Path) -> list[str]:
        return runc_containers_under(root)

    @staticmethod
    def processes_with_argument(argument: str) -> list[int]:
        return processes_with_argument(argument)

    @staticmethod
    def processes_in_group(group: int) -> list[int]:
        return processes_in_group(group)

    @staticmethod
    def processes_naming(directory: Path) -> list[int]:
        return processes_naming(directory)


@pytest.fixture
def leftovers() -> Leftovers:
    return Leftovers()


def processes_with_argument(argument: str) -> list[int]:
    """PIDs of processes with `argument` as one of their argv words."""
    wanted = argument.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in words:
            found.append(int(entry.name))
    return found


def processes_naming(directory: Path) -> list[int]:
    """PIDs of processes with an argument under `directory` (a build's private ssh-agent names its dir)."""
    prefix = str(directory.resolve()) + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = os.fsdecode((entry / "cmdline").read_bytes()).split("\0")
        except OSError:
            continue
        if any(word.startswith(prefix) for word in words):
            found.append(int(entry.name))
    return found


def processes_in_group(group: int) -> list[int]:
    """PIDs of live (not zombie) processes whose process group is `group`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state, ppid, pgrp, ...
        state, _parent, process_group = stat.rsplit(")", 1)[1].split()[:3]
        if int(process_group) == group and state != "Z":
            found.append(int(entry.name))
    return found


# -- image contents ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One path of a flattened image tree, as compared between builders (mtimes ignored)."""

    kind: str  # "file", "dir", "symlink", "hardlink", "other"
    mode: int
    size: int
    link: str
    uid: int
    gid: int


def saved_layers(archive: Path) -> list[bytes]:
    """The layer tars (uncompressed) of the one image in a `docker save` / `slipway save` archive, bottom first."""
    with tarfile.open(archive) as outer:
        names = outer.getnames()

        def read(name: str) -> bytes:
            member = outer.extractfile(name.lstrip("/"))
            assert member is not None, f"{archive}: {name} is not a file"
            return member.read()

        if "manifest.json" in names:
            manifest = json.loads(read("manifest.json"))
            assert len(manifest) == 1, manifest
            return [decompress(read(layer)) for layer in manifest[0]["Layers"]]
        index = json.loads(read("index.json"))
        descriptor = index["manifests"][0]
        image_manifest = json.loads(read("blobs/" + descriptor["digest"].replace(":", "/")))
        return [
            decompress(read("blobs/" + layer["digest"].replace(":", "/")))
            for layer in image_manifest["layers"]
        ]


def decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        import gzip

        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def layer_members(layer: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return tar.getmembers()


def flatten_layers(layers: list[bytes]) -> dict[str, Entry]:
    """Apply layers in order with OCI whiteouts: path -> Entry of the resulting tree."""
    tree: dict[str, Entry] = {}
    for layer in layers:
        for member in layer_members(layer):
            path = member.name.rstrip("/")
            if path.startswith("./"):
                path = path[2:]
            if path in ("", "."):
                continue
            parent, _, base = path.rpartition("/")
            if base == ".wh..wh..opq":
                for known in [known for known in tree if known.startswith(parent + "/")]:
                    del tree[known]
                continue
            if base.startswith(".wh."):
                removed = (parent + "/" if parent else "") + base[4:]
                for known in [known for known in tree if known == removed or known.startswith(removed + "/")]:
                    del tree[known]
                continue
            kind = (
                "dir"
                if member.isdir()
                else "symlink"
                if member.issym()
                else "hardlink"
                if member.islnk()
                else "file"
                if member.isfile()
                else "other"
            )
            if kind != "dir":
                for known in [known for known in tree if known.startswith(path + "/")]:
                    del tree[known]
            size = member.size if kind == "file" else 0
            link = member.linkname if kind in ("symlink", "hardlink") else ""
            if kind == "hardlink":
                # A hardlink is the same file as its target: compare it as that file.
                target = tree.get(link.rstrip("/").removeprefix("./"))
                kind, size = "file", target.size if target else 0
                link = ""
            tree[path] = Entry(kind, member.mode & 0o7777, size, link, member.uid, member.gid)
    return tree


@pytest.fixture
def token(request: pytest.FixtureRequest) -> str:
    """A name unique to the test, for image names, cache ids and sentinel files in shared places."""
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60] + f"-{os.getpid()}"


@pytest.fixture
def host_processes_cleanup() -> Iterator[list[int]]:
    """PIDs a test started (or caused) and must not leave behind; killed at the end if still alive."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# -- a loopback HTTP server ------------------------------------------------------------------------------


@pytest.fixture(name="serve_directory")
def serve_directory_fixture() -> Callable[[Path], contextlib.AbstractContextManager[str]]:
    """serving_directory(directory) as a fixture, for test modules (they import nothing)."""
    return serving_directory
