"""What BuildKit's tests do through their client, done with the `slipway` command.

BuildKit's `f.Solve(..., SolveOpt{LocalMounts, FrontendAttrs, Exports})` becomes `slipway build` with the
context directory, `--build-arg`/`--target`/`-f` flags and an `--output`; `integration.Tmpdir(t,
fstest.CreateFile(...), fstest.Symlink(...))` becomes `sandbox.context(dockerfile, file(...), symlink(...))`.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import build_helpers

helpers = build_helpers.load()

Entry = Callable[[Path], None]


def file(name: str, content: str | bytes, mode: int = 0o600) -> Entry:
    """fstest.CreateFile"""

    def create(root: Path) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(mode)

    return create


def directory(name: str, mode: int = 0o700) -> Entry:
    """fstest.CreateDir"""

    def create(root: Path) -> None:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name).chmod(mode)

    return create


def symlink(target: str, name: str) -> Entry:
    """fstest.Symlink(target, name)"""

    def create(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)

    return create


def unix_socket(name: str, mode: int = 0o600) -> Entry:
    """fstest.CreateSocket"""

    def create(root: Path) -> None:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(root / name))
        (root / name).chmod(mode)

    return create


def tar_bytes(*members: tuple[str, str | bytes | None, dict[str, Any]], gzipped: bool = False) -> bytes:
    """A tar archive as Go's tar.Writer writes it: (name, content or None, TarInfo attributes) per member."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gzipped else "w", format=tarfile.PAX_FORMAT) as tar:
        for name, content, attributes in members:
            info = tarfile.TarInfo(name)
            data = content.encode() if isinstance(content, str) else content
            info.mode = 0o644
            for key, value in attributes.items():
                setattr(info, key, value)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def regular_member(
    name: str, content: str | bytes, mode: int = 0o644
) -> tuple[str, str | bytes, dict[str, Any]]:
    return (name, content, {"mode": mode})


def read_tar(data: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """testutil.ReadTarToMap: name -> (header, data); directories keep their trailing slash."""
    found: dict[str, tuple[tarfile.TarInfo, bytes]] = {}
    with tarfile.open(fileobj=io.BytesIO(helpers.decompress(data))) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            name = member.name + "/" if member.isdir() and not member.name.endswith("/") else member.name
            found[name] = (member, extracted.read() if extracted else b"")
    return found


@dataclass(frozen=True)
class OciArchive:
    """An `-o type=oci` archive: its index, and for each image manifest its config and layers."""

    blobs: Mapping[str, bytes]
    index: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> OciArchive:
        members = read_tar(path.read_bytes())
        blobs = {name: data for name, (_info, data) in members.items()}
        return cls(blobs, json.loads(blobs["index.json"]))

    def blob(self, digest: str) -> bytes:
        return self.blobs["blobs/" + digest.replace(":", "/")]

    def json(self, digest: str) -> Any:
        return json.loads(self.blob(digest))

    def manifest(self) -> dict[str, Any]:
        """The one image manifest (following an index if the top descriptor is one)."""
        descriptor = self.index["manifests"][0]
        document = self.json(descriptor["digest"])
        while "manifests" in document:
            document = self.json(document["manifests"][0]["digest"])
        return dict(document)

    def config(self) -> dict[str, Any]:
        return dict(self.json(self.manifest()["config"]["digest"]))

    def layers(self) -> list[dict[str, tuple[tarfile.TarInfo, bytes]]]:
        return [read_tar(self.blob(layer["digest"])) for layer in self.manifest()["layers"]]


@dataclass
class Sandbox:
    """One test's view of slipway: a store, a scratch directory, a name prefix for its images."""

    store: Any  # helpers.Slipway
    tmp: Path
    name: str
    counter: list[int] = field(default_factory=lambda: [0])

    def fresh(self, prefix: str) -> Path:
        self.counter[0] += 1
        path = self.tmp / f"{prefix}{self.counter[0]}"
        path.mkdir(parents=True)
        return path

    def context(self, dockerfile: str | bytes | None, *entries: Entry, filename: str = "Dockerfile") -> Path:
        """integration.Tmpdir with a Dockerfile (unless None) and the entries, in a new directory."""
        root = self.fresh("ctx")
        if dockerfile is not None:
            file(filename, dockerfile)(root)
        for entry in entries:
            entry(root)
        return root

    def tag(self, suffix: str = "") -> str:
        self.counter[0] += 1
        return f"bk-{self.name}{suffix}:{self.counter[0]}"

    def build(
        self,
        context: Path | str,
        *args: str,
        dockerfile: Path | None = None,
        cwd: Path | None = None,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = ["build", "--progress", "plain", *args]
        if dockerfile is not None:
            argv += ["-f", str(dockerfile)]
        argv.append(str(context))
        if isinstance(input, bytes):
            completed = subprocess.run(
                self.store.argv(*argv),
                cwd=cwd,
                input=input,
                capture_output=True,
                timeout=helpers.COMMAND_TIMEOUT,
                env={**os.environ, **env} if env else None,
                check=False,
            )
            return subprocess.CompletedProcess(
                completed.args,
                completed.returncode,
                completed.stdout.decode(errors="replace"),
                completed.stderr.decode(errors="replace"),
            )
        result: subprocess.CompletedProcess[str] = self.store(*argv, cwd=cwd, input=input, env=env)
        return result

    def build_ok(self, context: Path | str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = self.build(context, *args, **kwargs)
        assert result.returncode == 0, helpers.describe(result)
        assert "Traceback" not in result.stderr, helpers.describe(result)
        return result

    def build_fails(self, context: Path | str, *args: str, **kwargs: Any) -> str:
        """A build that must fail cleanly: returns what it printed (stdout and stderr)."""
        result = self.build(context, *args, **kwargs)
        assert result.returncode != 0, helpers.describe(result)
        assert "Traceback" not in result.stderr, helpers.describe(result)
        return result.stdout + result.stderr

    def export(self, context: Path | str, *args: str, **kwargs: Any) -> Path:
        """A build exported with `-o type=local` (BuildKit's ExporterLocal): the destination directory."""
        destination = self.fresh("out")
        self.build_ok(context, *args, "--output", f"type=local,dest={destination}", **kwargs)
        return destination

    def export_tar(
        self, context: Path | str, *args: str, **kwargs: Any
    ) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
        """A build exported with `-o type=tar` (BuildKit's ExporterTar), read as ReadTarToMap does."""
        destination = self.fresh("tar") / "out.tar"
        self.build_ok(context, *args, "--output", f"type=tar,dest={destination}", **kwargs)
        return read_tar(destination.read_bytes())

    def export_oci(self, context: Path | str, *args: str, **kwargs: Any) -> OciArchive:
        """A build exported with `-o type=oci` (BuildKit's ExporterOCI)."""
        destination = self.fresh("oci") / "out.tar"
        self.build_ok(context, *args, "--output", f"type=oci,dest={destination}", **kwargs)
        return OciArchive.read(destination)

    def image(self, context: Path | str, *args: str, **kwargs: Any) -> str:
        """A build exported to the store as an image (BuildKit's ExporterImage): its name."""
        name = self.tag()
        self.build_ok(context, "-t", name, *args, **kwargs)
        return name

    def image_config(self, ref: str) -> dict[str, Any]:
        """The OCI config of an image in the store (what BuildKit's tests read from containerd)."""
        archive = self.fresh("save") / "image.tar"
        self.store.ok("save", "--format", "oci", "-o", str(archive), ref)
        return OciArchive.read(archive).config()
