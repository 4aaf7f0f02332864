"""A build for two platforms pushed to a real registry on 127.0.0.1 as one OCI image index; another store pulls
each platform's image under the one name and builds FROM it for either platform, RUN emulated for arm64."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from _registry_servers import Registry, skopeo

import build_helpers

pytestmark = [pytest.mark.interop, pytest.mark.root]

helpers = build_helpers.load()
busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar
Slipway = helpers.Slipway
make_context = helpers.make_context

ARM64_BUSYBOX = Path("/usr/local/lib/slipway-tests/arm64/busybox")
PULL_MISSING = {"SLIPWAY_PULL_POLICY": "missing"}


@pytest.fixture
def builder(tmp_path: Path, busybox_rootfs: Path, busybox_tar: Path) -> Slipway:
    """A store whose busybox:test is there for linux/amd64 and linux/arm64."""
    if not ARM64_BUSYBOX.is_file():
        pytest.fail(f"{ARM64_BUSYBOX} is missing: run scripts/setup (scripts/foreign-busybox)")
    rootfs = tmp_path / "arm64-rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    shutil.copy2(ARM64_BUSYBOX, rootfs / "bin" / "busybox")
    archive = tmp_path / "arm64.tar"
    subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."], check=True)
    slipway = Slipway(tmp_path / "builder")
    helpers.import_busybox(slipway, busybox_tar)
    slipway.ok("import", "--platform", "linux/arm64", "-c", 'CMD ["sh"]', str(archive), "busybox:test")
    return slipway


def test_two_platforms_pushed_as_one_index_and_pulled_per_platform(
    builder: Slipway, registry: Registry, tmp_path: Path
) -> None:
    name = f"{registry.host}/tests/two-platforms:v1"
    dockerfile = "FROM busybox:test\nRUN uname -m > /machine\n"
    builder.build_ok(
        make_context(tmp_path / "ctx", dockerfile),
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        name,
        "--push",
    )
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{name}")
    assert raw.returncode == 0, raw.stderr
    index = json.loads(raw.stdout)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [entry["platform"]["architecture"] for entry in index["manifests"]] == ["amd64", "arm64"]

    other = Slipway(tmp_path / "other")
    other.ok("pull", "--platform", "linux/arm64", name)
    other.ok("pull", "--platform", "linux/amd64", name)
    assert other.ok("run", "--rm", "--platform", "linux/arm64", name, "cat", "/machine").stdout == "aarch64\n"
    assert other.ok("run", "--rm", name, "cat", "/machine").stdout == "x86_64\n"

    # FROM the index: each platform's build starts from that platform's image, pulled as needed.
    third = Slipway(tmp_path / "third")
    context = make_context(tmp_path / "ctx2", f"FROM {name}\nRUN cat /machine && uname -m\n")
    built = third.build_ok(context, "--platform", "linux/arm64", "-t", "from-index:arm64", env=PULL_MISSING)
    assert "aarch64\n" in built.stdout + built.stderr and "x86_64" not in built.stdout + built.stderr

    # `slipway push` of a name holding both platforms pushes the index again.
    again = f"{registry.host}/tests/two-platforms:copy"
    other.ok("push", name, again)
    copied = json.loads(skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{again}").stdout)
    assert copied["manifests"] == index["manifests"]
