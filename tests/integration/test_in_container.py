"""slipway in a container (issue 16, item 3): slipway builds its own image (deploy/Dockerfile), a private dockerd
loads it and runs it as uid 1000, without --privileged and without an added capability, with only the relaxations
rootless BuildKit documents for the same (seccomp and AppArmor unconfined, and its no-process-sandbox mode:
SLIPWAY_PROCESS_SANDBOX=off); inside, slipway builds the seed example and runs it.

Offline throughout: the image's Debian system is made from the host's own installed packages (tests/host_debian.py)
and passed as SYSTEM_IMAGE, and its wheels come from the wheelhouse scripts/setup fetched (WHEELHOUSE).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import prerequisites
from host_debian import make_rootfs
from private_dockerd import Dockerd, running_dockerd

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "seed"
GREETING = "Hello from a multi-stage build!"
WHEELHOUSE = Path("/var/cache/slipway/wheelhouse")  # scripts/setup fills it
# What deploy/Dockerfile's debian-system stage installs, less git (no test needs it), plus what
# debian:bookworm-slim has of its own that the build runs (sh, useradd, coreutils).
SYSTEM_PACKAGES = (
    "python3", "python3-venv", "runc", "uidmap", "slirp4netns", "fuse-overlayfs", "libcap2-bin", "ca-certificates",
    "base-files", "bash", "dash", "coreutils", "passwd",
)  # fmt: skip
SYSTEM_PATH = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The whole of what docker is given: a user, and rootless BuildKit's documented relaxations.
UNPRIVILEGED = (
    "--user", "1000", "--network", "none",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "-e", "SLIPWAY_PROCESS_SANDBOX=off",
)  # fmt: skip
INSIDE = """\
set -e
echo "uid=$(id -u)"
python3 -c 'print(next(line for line in open("/proc/self/status") if line.startswith("CapEff")), end="")'
slipway import --change "$GO_ENV" --change 'CMD ["sh"]' /inputs/golang.tar golang:1.24
cd /seed
# With the process sandbox (the default), the kernel refuses a fresh /proc under docker's masks: said so.
if SLIPWAY_PROCESS_SANDBOX=on slipway build -t frmscratch:sandboxed -f multiStageFromScratch . 2>/tmp/refused
then echo "sandboxed build passed"
else echo "sandboxed build refused:"; cat /tmp/refused; echo "(end of refusal)"
fi
slipway build --progress plain -t frmscratch:v2 -f multiStageFromScratch .
slipway run --rm frmscratch:v2
"""


@pytest.fixture(scope="module")
def slipway_image(tmp_path_factory: pytest.TempPathFactory, build_helpers: Any) -> Path:
    """slipway's own image, built by slipway from deploy/Dockerfile, as a `docker load` archive."""
    prerequisites.require_file(WHEELHOUSE, "slipway's wheelhouse (scripts/setup fetches it)")
    work = tmp_path_factory.mktemp("image")
    system = make_rootfs(work / "system", SYSTEM_PACKAGES)
    build_helpers.tar_directory(system, work / "system.tar")
    shutil.rmtree(system)
    slipway = build_helpers.Slipway(work / "store")
    slipway.ok("import", "--change", SYSTEM_PATH, str(work / "system.tar"), "slipway-system:test")
    context = work / "context"
    shutil.copytree(REPO / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "deploy", context / "deploy")
    shutil.copytree(WHEELHOUSE, context / "wheelhouse")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, context / name)
    archive = work / "slipway-image.tar"
    slipway.build_ok(
        context, "-f", str(context / "deploy" / "Dockerfile"),
        "--build-arg", "SYSTEM_IMAGE=slipway-system:test", "--build-arg", "WHEELHOUSE=wheelhouse",
        "--output", f"type=docker,dest={archive},name=slipway:test",
    )  # fmt: skip
    assert build_helpers.mounts_under(slipway.root) == []
    return archive


@pytest.fixture(scope="module")
def build_helpers() -> Any:
    import build_helpers as loader

    return loader.load()


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    prerequisites.require_tool("dockerd", "docker.io")
    directory = Path(tempfile.mkdtemp(prefix="slipway-dockerd-"))  # short: the socket path fits sun_path
    try:
        with running_dockerd(directory, []) as daemon:
            yield daemon
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_an_unprivileged_container_of_slipway_builds_and_runs_the_seed(
    slipway_image: Path, dockerd: Dockerd, golang_tar: Path, golang_env: str
) -> None:
    loaded = dockerd.run("load", "-i", str(slipway_image), timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    [config] = _inspect(dockerd, "slipway:test")
    assert config["User"] == "slipway" and config["Entrypoint"] == ["slipway"]
    ran = dockerd.run(
        "run", "--rm", *UNPRIVILEGED, "-e", f"GO_ENV={golang_env}",
        "-v", f"{golang_tar}:/inputs/golang.tar:ro", "-v", f"{SEED}:/seed:ro",
        "--entrypoint", "sh", "slipway:test", "-c", INSIDE,
        timeout=900,
    )  # fmt: skip
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    lines = ran.stdout.splitlines()
    # Not root, and no capability at all in the container: what slipway does there, it does as the user.
    assert "uid=1000" in lines and "CapEff:\t0000000000000000" in lines, output
    refusal = "\n".join(lines[lines.index("sandboxed build refused:") : lines.index("(end of refusal)")])
    assert "systempaths=unconfined" in refusal and "SLIPWAY_PROCESS_SANDBOX=off" in refusal, refusal
    assert GREETING in lines, output


def _inspect(dockerd: Dockerd, reference: str) -> list[dict[str, Any]]:
    inspected = dockerd.run("image", "inspect", "--format", "{{json .Config}}", reference)
    assert inspected.returncode == 0, inspected.stderr
    return [json.loads(line) for line in inspected.stdout.splitlines()]
