"""A fleet of rootless builders sharing one registry cache, on this machine (issue 16, item 4).

N builders, each an ordinary user of its own (a subordinate id range, a store in their home), build one
multi-stage Dockerfile against one loopback registry, which holds the base image and the build cache:

1. cold: builder 1, empty store, builds with --cache-to type=registry,mode=max and pushes the image;
2. cold: builders 2..N, empty stores, build with --cache-from: every step is a cache hit, and each fetches
   only what the image is made of (the base, the final stage's layers), never the build stage's;
3. change: main.txt changes; every builder (each on its own, as builders started at once would) rebuilds
   with --cache-from: exactly the steps that read main.txt, and those after them, run again.

For each build: seconds, bytes fetched from the registry (the registry's access log, between two marker
requests), the blobs fetched, and each step's outcome. Run as root (it makes the users and removes them):
`benchmarks/fleet [--builders N] [--report FILE.json]`. tests/interop/test_fleet.py runs it with 2 builders and
checks the outcomes and the blobs, not the times.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import build_helpers  # noqa: E402  (tests/: the rootless slipway command, the busybox base)
from loopback_registry import Registry, running_registry  # noqa: E402
from rootless_user import unprivileged_user  # noqa: E402

EPOCH = "1700000000"
DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox:latest
FROM ${BASE} AS build
COPY lib.txt /src/lib.txt
RUN head -c 4000000 /dev/urandom > /toolchain.bin
RUN cat /src/lib.txt > /lib.out
COPY main.txt /src/main.txt
RUN cat /lib.out /src/main.txt > /app.out
FROM ${BASE}
COPY config.txt /app/config.txt
COPY --from=build /app.out /app/app.out
"""
FILES = {"lib.txt": "a library\n", "main.txt": "main, version 1\n", "config.txt": "settings\n"}
CHANGE = {"main.txt": "main, version 2\n"}
# The steps that read main.txt or follow one that does: what the change must run again, and nothing else.
RERUN_AFTER_CHANGE = ("COPY main.txt", "RUN cat /lib.out /src/main.txt", "COPY --from=build")
REPOSITORY = "fleet/app"
LOG_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d+) (?P<size>\d+|-)')
BLOB_PATH = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")


@dataclass(frozen=True)
class Build:
    phase: str
    builder: int
    seconds: float
    steps: dict[str, str]  # step name -> CACHED, DONE or ERROR
    blobs_fetched: dict[str, int]  # digest -> bytes
    bytes_fetched: int  # blobs and manifests
    image_id: str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--builders", type=int, default=4)
    parser.add_argument("--report", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    if options.builders < 2:
        parser.error("--builders: at least 2")
    report = simulate(options.builders)
    print(render(report["builds"]))
    if options.report:
        options.report.write_text(json.dumps(report, indent=2))
    return 0


def simulate(count: int) -> dict[str, Any]:
    helpers = build_helpers.load()
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="slipway-fleet-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        registry = stack.enter_context(running_registry(work / "registry", access_log=True))
        base = push_base(helpers, registry, work)
        users = [stack.enter_context(unprivileged_user(f"slwfl{index}")) for index in range(1, count + 1)]
        builders = [helpers.RootlessSlipway(user.home / "store", user) for user in users]
        context = helpers.make_context(work / "context", DOCKERFILE, FILES)
        cache = f"{registry.host}/{REPOSITORY}:buildcache"
        image = f"{registry.host}/{REPOSITORY}:v1"
        common = ("-t", image, "--build-arg", f"BASE={base}", "--cache-from", f"type=registry,ref={cache}")
        builds = [
            build(registry, builders[0], "cold", 1, context, *common,
                  "--cache-to", f"type=registry,ref={cache},mode=max", "--push"),
        ]  # fmt: skip
        builds += [build(registry, builders[i], "cold", i + 1, context, *common) for i in range(1, count)]
        helpers.make_context(context, None, CHANGE)
        builds += [build(registry, builders[i], "change", i + 1, context, *common) for i in range(count)]
        return {
            "builds": [asdict(entry) for entry in builds],
            "image_layers": manifest_layers(registry, f"{REPOSITORY}/manifests/v1"),
            "cache_layers": manifest_layers(registry, f"{REPOSITORY}/manifests/buildcache"),
            "base_layers": manifest_layers(registry, "fleet/busybox/manifests/1"),
            "rerun_after_change": list(RERUN_AFTER_CHANGE),
        }
    raise AssertionError("unreachable")


def push_base(helpers: Any, registry: Registry, work: Path) -> str:
    """The base image, busybox, in the registry: a builder's store starts empty and pulls it."""
    seed = helpers.Slipway(work / "seed-store")
    rootfs = helpers.make_busybox_rootfs(work / "busybox")
    helpers.import_busybox(seed, helpers.tar_directory(rootfs, work / "busybox.tar"), "busybox:fleet")
    name = f"{registry.host}/fleet/busybox:1"
    seed.ok("push", "busybox:fleet", name)
    return name


def build(registry: Registry, builder: Any, phase: str, number: int, context: Path, *args: str) -> Build:
    label = f"{phase}-{number}"
    with fetched(registry, label) as requests:
        started = time.monotonic()
        environment = {"SLIPWAY_PULL_POLICY": "missing", "SOURCE_DATE_EPOCH": EPOCH}
        result = builder.build_ok(context, *args, env=environment)
        seconds = time.monotonic() - started
    blobs = {
        match.group(1): size
        for method, path, status, size in requests
        if method == "GET" and status == 200 and (match := BLOB_PATH.match(path))
    }
    return Build(
        phase=phase,
        builder=number,
        seconds=round(seconds, 2),
        steps=step_outcomes(result.stderr),
        blobs_fetched=blobs,
        bytes_fetched=sum(size for method, _, status, size in requests if method == "GET" and status == 200),
        image_id=builder.image_id(args[args.index("-t") + 1]),
    )


class fetched:  # noqa: N801  (a context manager read as a phrase: `with fetched(...) as requests`)
    """The registry requests made inside the block: (method, path, status, bytes sent), from the access log
    lines between two marker requests (the log is written in the order the requests end)."""

    def __init__(self, registry: Registry, label: str) -> None:
        self.registry, self.label = registry, label
        self.requests: list[tuple[str, str, int, int]] = []

    def __enter__(self) -> list[tuple[str, str, int, int]]:
        httpx.get(self.registry.url(f"/v2/?fleet={self.label}-start"), timeout=10)
        return self.requests

    def __exit__(self, *exc_info: object) -> None:
        httpx.get(self.registry.url(f"/v2/?fleet={self.label}-end"), timeout=10)
        self.requests.extend(between(self.registry.log, f"{self.label}-start", f"{self.label}-end"))


def between(log: Path, start: str, end: str) -> list[tuple[str, str, int, int]]:
    marks = (f"/v2/?fleet={start}", f"/v2/?fleet={end}")
    for _ in range(100):  # the end marker's line is written just after its reply
        requests = [
            (
                match["method"],
                match["path"],
                int(match["status"]),
                0 if match["size"] == "-" else int(match["size"]),
            )
            for line in log.read_text(errors="replace").splitlines()
            if (match := LOG_LINE.search(line))
        ]
        found = [index for index, request in enumerate(requests) if request[1] in marks]
        if len(found) == 2:
            return requests[found[0] + 1 : found[1]]
        time.sleep(0.1)
    raise RuntimeError(f"the registry's log ({log}) lacks the marker requests {start}, {end}")


def step_outcomes(progress: str) -> dict[str, str]:
    """What `--progress plain` says of each Dockerfile step (FROM lines aside): CACHED, DONE or ERROR."""
    names = re.findall(r"^#(\d+) \[([^\]]+)\] (.+)$", progress, re.MULTILINE)
    outcomes = dict(re.findall(r"^#(\d+) (CACHED|DONE|ERROR)", progress, re.MULTILINE))
    return {
        name: outcomes.get(number, "?")
        for number, where, name in names
        if where != "internal" and not name.startswith("FROM ")
    }


def manifest_layers(registry: Registry, path: str) -> list[str]:
    accept = (
        "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    )
    response = httpx.get(registry.url(f"/v2/{path}"), headers={"Accept": accept}, timeout=30)
    response.raise_for_status()
    return [layer["digest"] for layer in response.json()["layers"]]


def render(builds: list[dict[str, Any]]) -> str:
    rows = [f"{'phase':<8} {'builder':>7} {'seconds':>8} {'fetched':>10} {'blobs':>6}  steps run / cached"]
    for entry in builds:
        outcomes = list(entry["steps"].values())
        rows.append(
            f"{entry['phase']:<8} {entry['builder']:>7} {entry['seconds']:>8.2f} "
            f"{entry['bytes_fetched'] / 1e6:>8.2f}MB {len(entry['blobs_fetched']):>6}  "
            f"{outcomes.count('DONE')} / {outcomes.count('CACHED')}"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
