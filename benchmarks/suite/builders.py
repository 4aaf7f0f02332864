"""The three builders behind one small interface: import the bases, empty the cache, build, save, look inside.

Each builder's store lives on the benchmark file system. Only `build_argv`/`save_argv` are timed; everything
else (imports, resets, checks) happens outside the timed window.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from pathlib import Path

from benchmarks.suite.bases import BaseImage, BaseImages
from benchmarks.suite.dockerd import Dockerd
from benchmarks.suite.memory import tree_rss
from benchmarks.suite.workloads import Workload


class CommandFailed(RuntimeError):
    pass


def run(argv: list[str], env: dict[str, str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-2000:]
        raise CommandFailed(f"{' '.join(argv)} exited with {done.returncode}:\n{tail}")
    return done


def _short_id(image_id: str) -> str:
    return image_id.strip().removeprefix("sha256:")


class Builder(ABC):
    """A builder under test. `env` is the environment its commands run in (TMPDIR on the bench file system)."""

    name: str
    env: dict[str, str]

    @abstractmethod
    def prepare(self, bases: BaseImages) -> None:
        """Import the base images (once, untimed)."""

    @abstractmethod
    def reset(self) -> None:
        """Empty the build cache and remove built images; keep the base images."""

    @abstractmethod
    def build_argv(self, workload: Workload) -> list[str]: ...

    @abstractmethod
    def save_argv(self, tag: str, out: Path) -> list[str]: ...

    @abstractmethod
    def run_in(self, tag: str, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]: ...

    @abstractmethod
    def layer_count(self, tag: str) -> int: ...

    def push_argv(self, tag: str, ref: str) -> list[str]:
        """Push `tag` to a loopback registry as `ref` (the scaling suite)."""
        raise NotImplementedError(f"{self.name} does not push in these benchmarks")

    def pull_argv(self, ref: str) -> list[str]:
        """Pull `ref` from a loopback registry (after `forget`, so it is all fetched again)."""
        raise NotImplementedError(f"{self.name} does not pull in these benchmarks")

    def forget(self, *refs: str) -> None:
        """Remove the images `refs`, their layers and the build cache (the base images stay): a pull then
        fetches everything again."""
        raise NotImplementedError(f"{self.name} does not pull in these benchmarks")

    def memory_baseline(self) -> int:
        """RSS to subtract from the sampled peak, read just before the timed command starts."""
        return 0

    def image_size(self, tag: str) -> int | None:
        """The image's size as `docker images` counts it (its layers unpacked); None if the builder cannot say."""
        return None

    def memory_roots(self, pid: int) -> list[int]:
        """The process trees whose RSS counts for a timed command started as `pid`."""
        return [pid]

    def describe(self) -> str:
        return self.name


class Slipway(Builder):
    """slipway with a fresh store root per cold run: a copy of a template root holding only the base images."""

    name = "slipway"

    def __init__(self, home: Path, env: dict[str, str], repo: Path, revision: str) -> None:
        self.template, self.root = home / "template", home / "root"
        self.source = home / "source"
        self.repo, self.revision = repo, revision
        # One commit, exported: other engineers edit and commit in the shared tree while the suite runs.
        # Compiled bytecode, as an installed slipway has (PYTHONDONTWRITEBYTECODE is set on these machines).
        self.env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env["PYTHONPATH"] = str(self.source / "src")
        self.env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
        self.command = [sys.executable, "-m", "slipway"]
        self.commit = ""

    def _cli(self, root: Path, *args: str) -> list[str]:
        return [*self.command, "--root", str(root), *args]

    def _export_source(self) -> None:
        """`git archive` the revision into self.source and check that it is what `python -m slipway` imports."""
        self.commit = run(
            ["git", "-C", str(self.repo), "rev-parse", "--short", self.revision], self.env
        ).stdout.strip()
        self.source.mkdir(parents=True, exist_ok=True)
        archive = subprocess.Popen(
            ["git", "-C", str(self.repo), "archive", self.commit, "src"], stdout=subprocess.PIPE
        )
        try:
            subprocess.run(["tar", "-x", "-C", str(self.source)], stdin=archive.stdout, check=True)
        finally:
            if archive.stdout is not None:
                archive.stdout.close()
            archive.wait()
        where = run(
            [sys.executable, "-c", "import slipway; print(slipway.__file__)"], self.env
        ).stdout.strip()
        if not where.startswith(str(self.source)):
            raise CommandFailed(f"python imports slipway from {where}, not from the exported {self.source}")
        run([sys.executable, "-m", "compileall", "-q", str(self.source / "src")], self.env)

    def prepare(self, bases: BaseImages) -> None:
        self._export_source()
        self.template.mkdir(parents=True, exist_ok=True)
        for base in bases.all():
            changes = [arg for kv in base.env for arg in ("--change", f"ENV {kv}")]
            run(self._cli(self.template, "import", *changes, str(base.tarball), base.name), self.env)
            self._unpack(base.name)
        self.reset()

    def _unpack(self, image: str) -> None:
        """Unpack the base's snapshot now, as `docker import` does, so no cold build pays for it.

        slipway import only stores the layer blob; the first FROM unpacks it (1-2 s for the Go image).
        """
        warmup = self.template.parent / "warmup"
        warmup.mkdir(exist_ok=True)
        (warmup / "Dockerfile").write_text(f"FROM {image}\n")
        run(
            self._cli(self.template, "build", "--progress", "quiet", "-t", "bench-warmup", str(warmup)),
            self.env,
        )
        run(self._cli(self.template, "rmi", "bench-warmup"), self.env)

    def reset(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        run(["cp", "-a", str(self.template), str(self.root)], self.env)

    def build_argv(self, workload: Workload) -> list[str]:
        return self._cli(
            # no --network host: a RUN's default network is the host's already, and naming it needs the
            # network.host entitlement (as BuildKit), which a build memo does not answer for
            self.root, "build", "--progress", "plain",
            "-t", workload.tag, "-f", str(workload.dockerfile), str(workload.context),
        )  # fmt: skip

    def save_argv(self, tag: str, out: Path) -> list[str]:
        return self._cli(self.root, "save", "-o", str(out), tag)

    def run_in(self, tag: str, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        return run(self._cli(self.root, "run", "--network", "none", tag, *argv), self.env, check=False)

    def push_argv(self, tag: str, ref: str) -> list[str]:
        return self._cli(self.root, "push", tag, ref)

    def pull_argv(self, ref: str) -> list[str]:
        return self._cli(self.root, "pull", ref)

    def forget(self, *refs: str) -> None:
        self.reset()  # a copy of the template root: the base images only

    def layer_count(self, tag: str) -> int:
        info = json.loads(run(self._cli(self.root, "inspect", tag), self.env).stdout)
        return len(info[0]["RootFS"]["Layers"])

    def image_size(self, tag: str) -> int | None:
        info = json.loads(run(self._cli(self.root, "inspect", tag), self.env).stdout)
        return int(info[0]["Size"])


class BuildKit(Builder):
    """docker BuildKit inside a private dockerd, driven by Debian's docker client with DOCKER_BUILDKIT=1."""

    name = "buildkit"

    def __init__(self, daemon: Dockerd, env: dict[str, str]) -> None:
        self.daemon = daemon
        self.env = {**env, "DOCKER_BUILDKIT": "1"}
        self.base_ids: set[str] = set()

    def prepare(self, bases: BaseImages) -> None:
        for base in bases.all():
            changes = [arg for kv in base.env for arg in ("--change", f"ENV {kv}")]
            done = run(self.daemon.client("import", *changes, str(base.tarball), base.name), self.env)
            self.base_ids.add(_short_id(done.stdout))

    def reset(self) -> None:
        containers = run(self.daemon.client("ps", "-aq"), self.env).stdout.split()
        if containers:
            run(self.daemon.client("rm", "-f", *containers), self.env)
        images = {
            _short_id(i)
            for i in run(self.daemon.client("images", "-aq", "--no-trunc"), self.env).stdout.split()
        }
        built = sorted(images - self.base_ids)
        if built:
            run(self.daemon.client("rmi", "-f", *built), self.env)
        run(self.daemon.client("builder", "prune", "-af"), self.env)

    def build_argv(self, workload: Workload) -> list[str]:
        return self.daemon.client(
            "build", "--network", "host", "--progress", "plain",
            "-t", workload.tag, "-f", str(workload.dockerfile), str(workload.context),
        )  # fmt: skip

    def save_argv(self, tag: str, out: Path) -> list[str]:
        return self.daemon.client("save", "-o", str(out), tag)

    def run_in(self, tag: str, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        return run(self.daemon.client("run", "--rm", "--network", "none", tag, *argv), self.env, check=False)

    def push_argv(self, tag: str, ref: str) -> list[str]:
        run(self.daemon.client("tag", tag, ref), self.env)
        return self.daemon.client("push", "-q", ref)

    def pull_argv(self, ref: str) -> list[str]:
        return self.daemon.client("pull", "-q", ref)

    def forget(self, *refs: str) -> None:
        run(self.daemon.client("rmi", "-f", *refs), self.env, check=False)
        run(self.daemon.client("builder", "prune", "-af"), self.env)

    def image_size(self, tag: str) -> int | None:
        info = json.loads(run(self.daemon.client("image", "inspect", tag), self.env).stdout)
        return int(info[0]["Size"])

    def layer_count(self, tag: str) -> int:
        info = json.loads(run(self.daemon.client("image", "inspect", tag), self.env).stdout)
        return len(info[0]["RootFS"]["Layers"])

    def memory_baseline(self) -> int:
        return tree_rss(self.daemon.pid)

    def memory_roots(self, pid: int) -> list[int]:
        # The work happens in the daemon (and the runc processes it starts), not in the client.
        return [self.daemon.pid]


class Buildah(Builder):
    """buildah bud with chroot isolation and --layers; overlay storage, or vfs where overlay fails."""

    name = "buildah"

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.env = env
        self.home = home
        self.driver = "overlay"
        self.base_ids: set[str] = set()

    def _cli(self, *args: str) -> list[str]:
        return [
            "buildah", "--root", str(self.home / "root"), "--runroot", str(self.home / "runroot"),
            "--storage-driver", self.driver, *args,
        ]  # fmt: skip

    def _import(self, base: BaseImage) -> str:
        container = run(self._cli("from", "scratch"), self.env).stdout.strip()
        try:
            run(self._cli("add", container, str(base.tarball), "/"), self.env)
            changes = [arg for kv in base.env for arg in ("--env", kv)]
            run(self._cli("config", *changes, container), self.env)
            return _short_id(run(self._cli("commit", "-q", container, base.name), self.env).stdout)
        finally:
            run(self._cli("rm", container), self.env, check=False)

    def prepare(self, bases: BaseImages) -> None:
        try:
            self.base_ids = {self._import(base) for base in bases.all()}
        except CommandFailed as err:
            print(f"buildah: overlay storage failed, using vfs: {err}", file=sys.stderr)
            shutil.rmtree(self.home, ignore_errors=True)
            self.driver = "vfs"
            self.base_ids = {self._import(base) for base in bases.all()}

    def reset(self) -> None:
        run(self._cli("rm", "-a"), self.env)
        images = {
            _short_id(i) for i in run(self._cli("images", "-aq", "--no-trunc"), self.env).stdout.split()
        }
        built = sorted(images - self.base_ids)
        if built:
            run(self._cli("rmi", "-f", *built), self.env)

    def build_argv(self, workload: Workload) -> list[str]:
        return self._cli(
            "bud", "--isolation", "chroot", "--network", "host", "--layers",
            "-t", workload.tag, "-f", str(workload.dockerfile), str(workload.context),
        )  # fmt: skip

    def save_argv(self, tag: str, out: Path) -> list[str]:
        return self._cli("push", tag, f"docker-archive:{out}")

    def run_in(self, tag: str, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        container = run(self._cli("from", tag), self.env).stdout.strip()
        try:
            return run(
                self._cli("run", "--isolation", "chroot", container, "--", *argv), self.env, check=False
            )
        finally:
            run(self._cli("rm", container), self.env, check=False)

    def layer_count(self, tag: str) -> int:
        info = json.loads(run(self._cli("inspect", "--type", "image", tag), self.env).stdout)
        return len(info["OCIv1"]["rootfs"]["diff_ids"])

    def describe(self) -> str:
        return f"buildah ({self.driver} storage)"


def bench_env(tmpdir: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmpdir)}
