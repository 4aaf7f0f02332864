"""The transfer workloads: slipway pull against `skopeo copy` and `docker pull` from one loopback registry, and
slipway load against `docker load` (and skopeo's copy from the archive) of one `docker save` archive.

    benchmarks/run --workloads pull-big,pull-many,load-big,load-many [--builders slipway,skopeo,docker] [--runs 3]

    pull-big, load-big    ~512 MB in 4 layers of incompressible bytes (gzip layers: blobs as big as their data)
    pull-many, load-many  100 layers of 1 MiB each

The images are built once by slipway (`FROM scratch` and one COPY per layer), pushed to a fresh Distribution
registry on 127.0.0.1 and saved as an archive, all on the benchmark file system. Before each timed step the
tool starts empty: a fresh store root for slipway, a fresh OCI layout directory for skopeo (`oci:DIR`, what
`skopeo copy docker://… oci:…` writes), the image removed from the private dockerd. Each run alternates which
tool goes first. The results have the builders' format (results.json, table.md, chart), with the tools as
"builders" and slipway's ratios to skopeo and docker as the ratio columns.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.suite.builders import Slipway, run
from benchmarks.suite.dockerd import Dockerd
from benchmarks.suite.measure import Result, Timed, in_turn, timed
from benchmarks.suite.memory import tree_rss
from benchmarks.suite.quiet import wait_for_quiet

TRANSFER_ORDER = ("pull-big", "pull-many", "load-big", "load-many")
TOOLS = ("slipway", "skopeo", "docker")
PEERS = ("skopeo", "docker")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the registry starter the tests and benchmarks/fleet share

from loopback_registry import running_registry  # noqa: E402

CHUNK = 8 << 20


@dataclass(frozen=True, slots=True)
class TransferImage:
    name: str  # as pushed: 127.0.0.1:PORT/bench/<name>:v1
    layers: int
    archive: Path  # its `slipway save`


class Tool:
    """A pulling/loading tool under test; the parts of a Builder that `timed` uses (env, memory roots)."""

    name: str

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def memory_baseline(self) -> int:
        return 0

    def memory_roots(self, pid: int) -> list[int]:
        return [pid]

    def reset(self, image: TransferImage) -> None: ...

    def pull_argv(self, image: TransferImage) -> list[str]:
        raise NotImplementedError

    def load_argv(self, image: TransferImage) -> list[str]:
        raise NotImplementedError

    def layer_count(self, image: TransferImage) -> int:
        raise NotImplementedError


class SlipwayTool(Tool):
    name = "slipway"

    def __init__(self, slipway: Slipway) -> None:
        super().__init__(slipway.env)
        self.slipway = slipway

    def _cli(self, *args: str) -> list[str]:
        return [*self.slipway.command, "--root", str(self.slipway.root), *args]

    def reset(self, image: TransferImage) -> None:
        shutil.rmtree(self.slipway.root, ignore_errors=True)

    def pull_argv(self, image: TransferImage) -> list[str]:
        return self._cli("pull", image.name)

    def load_argv(self, image: TransferImage) -> list[str]:
        return self._cli("load", "-i", str(image.archive))

    def layer_count(self, image: TransferImage) -> int:
        listed = run(self._cli("images", "-q"), self.env).stdout.split()
        if len(listed) != 1:
            return -1
        info = json.loads(run(self._cli("inspect", listed[0]), self.env).stdout)
        return len(info[0]["RootFS"]["Layers"])


class SkopeoTool(Tool):
    name = "skopeo"

    def __init__(self, env: dict[str, str], layout: Path) -> None:
        super().__init__(env)
        self.layout = layout

    def reset(self, image: TransferImage) -> None:
        shutil.rmtree(self.layout, ignore_errors=True)

    def pull_argv(self, image: TransferImage) -> list[str]:
        return [
            "skopeo",
            "copy",
            "-q",
            "--src-tls-verify=false",
            f"docker://{image.name}",
            f"oci:{self.layout}:v1",
        ]

    def load_argv(self, image: TransferImage) -> list[str]:
        return ["skopeo", "copy", "-q", f"docker-archive:{image.archive}", f"oci:{self.layout}:v1"]

    def layer_count(self, image: TransferImage) -> int:
        index = json.loads((self.layout / "index.json").read_text())
        digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.loads((self.layout / "blobs" / "sha256" / digest).read_text())
        return len(manifest["layers"])


class DockerTool(Tool):
    name = "docker"

    def __init__(self, env: dict[str, str], daemon: Dockerd) -> None:
        super().__init__(env)
        self.daemon = daemon

    def reset(self, image: TransferImage) -> None:
        ids = run(self.daemon.client("images", "-q"), self.env).stdout.split()
        if ids:
            run(self.daemon.client("rmi", "-f", *sorted(set(ids))), self.env)

    def pull_argv(self, image: TransferImage) -> list[str]:
        return self.daemon.client("pull", "-q", image.name)

    def load_argv(self, image: TransferImage) -> list[str]:
        return self.daemon.client("load", "-q", "-i", str(image.archive))

    def layer_count(self, image: TransferImage) -> int:
        ids = run(self.daemon.client("images", "-q"), self.env).stdout.split()
        info = json.loads(run(self.daemon.client("image", "inspect", ids[0]), self.env).stdout) if ids else []
        return len(info[0]["RootFS"]["Layers"]) if info else -1

    def memory_baseline(self) -> int:
        return tree_rss(self.daemon.pid)

    def memory_roots(self, pid: int) -> list[int]:
        return [self.daemon.pid]  # the work happens in the daemon, not in the client


def make_images(slipway: Slipway, registry: str, work: Path) -> dict[str, TransferImage]:
    """Build the two images with slipway (in a store of their own), push them, save them."""
    source = Slipway(work / "maker", slipway.env, slipway.repo, slipway.revision)
    source.command, source.env = slipway.command, slipway.env  # the exported source, not maker/source
    shapes = {"big": (4, (512 << 20) // 4), "many": (100, 1 << 20)}
    images = {}
    for kind, (layers, size) in shapes.items():
        context = work / f"context-{kind}"
        context.mkdir(parents=True)
        lines = ["FROM scratch"]
        for index in range(layers):
            with (context / f"layer-{index:03d}").open("wb") as out:
                for start in range(0, size, CHUNK):
                    out.write(os.urandom(min(CHUNK, size - start)))
            lines.append(f"COPY layer-{index:03d} /layer-{index:03d}")
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        tag, name = f"bench-{kind}:v1", f"{registry}/bench/{kind}:v1"
        run(source._cli(source.root, "build", "--progress", "quiet", "-t", tag, str(context)), source.env)
        run(source._cli(source.root, "push", tag, name), source.env)
        archive = work / f"{kind}.tar"
        run(source._cli(source.root, "save", "-o", str(archive), tag), source.env)
        shutil.rmtree(context)
        images[kind] = TransferImage(name, layers, archive)
    shutil.rmtree(source.root)
    return images


def durable(argv: list[str], on: Path) -> list[str]:
    """`argv`, then a syncfs of the file system holding `on`: what a peer's copy costs once it is on the disk,
    as slipway's is when its pull or load returns (skopeo and docker leave their writes to the page cache)."""
    return ["sh", "-c", 'where=$1; shift; "$@" && sync -f "$where"', "sh", str(on), *argv]


def measure_transfer(
    tool: Tool, workload: str, image: TransferImage, run_index: int, logs: Path, *, synced: bool = False
) -> Result:
    log = logs / f"{workload}.{tool.name}.run{run_index}.log"
    tool.reset(image)
    quiet = wait_for_quiet()
    argv = tool.pull_argv(image) if workload.startswith("pull") else tool.load_argv(image)
    if synced and tool.name != "slipway":
        argv = durable(argv, image.archive)  # the archive is on the file system every tool writes to
    step: Timed = timed(tool, argv, log)  # type: ignore[arg-type]  # a Tool has what timed uses of a Builder
    ok, detail = step.returncode == 0, f"exit {step.returncode}"
    if ok:
        layers = tool.layer_count(image)
        ok, detail = layers == image.layers, "" if layers == image.layers else f"{layers} layers"
    seconds = step.seconds if step.returncode == 0 else None
    return Result(
        workload, "", tool.name, run_index, seconds, step.peak_bytes, ok, detail, quiet.reached, str(log)
    )


def run_transfers(
    tools: list[Tool],
    workloads: list[str],
    images: dict[str, TransferImage],
    runs: int,
    logs: Path,
    synced: bool,
) -> Iterator[Result]:
    for run_index in range(runs):
        for position, workload in enumerate(workloads):
            image = images[workload.split("-", 1)[1]]
            for tool in in_turn(tools, run_index, position):
                result = measure_transfer(tool, workload, image, run_index, logs, synced=synced)
                seconds = "failed" if result.seconds is None else f"{result.seconds:.2f}s"
                state = "ok" if result.ok else f"WRONG: {result.detail}"
                print(f"run {run_index + 1}/{runs} {workload} {tool.name}: {seconds}, "
                      f"{result.peak_bytes / 2**20:.0f} MiB, {state}", file=sys.stderr)  # fmt: skip
                yield result
            for tool in tools:
                tool.reset(image)  # leave the file system as empty for the next workload as for this one


def measure_all(
    workloads: list[str],
    tool_names: list[str],
    runs: int,
    fs: Path,
    logs: Path,
    slipway: Slipway,
    dockerd: Dockerd | None,
    synced: bool = False,
) -> list[Result]:
    """Make the images, then time every workload on every tool `runs` times."""
    env = slipway.env
    with running_registry(fs / "registry") as server:
        print(f"making the transfer images (registry {server.host})", file=sys.stderr)
        images = make_images(slipway, server.host, fs / "transfer-images")
        tools: list[Tool] = []
        for name in tool_names:
            if name == "slipway":
                tools.append(SlipwayTool(slipway))
            elif name == "skopeo":
                tools.append(
                    SkopeoTool({k: v for k, v in env.items() if k != "PYTHONPATH"}, fs / "skopeo-layout")
                )
            elif dockerd is not None:
                tools.append(DockerTool({k: v for k, v in env.items() if k != "PYTHONPATH"}, dockerd))
        return list(run_transfers(tools, workloads, images, runs, logs, synced))
