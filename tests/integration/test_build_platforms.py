"""Builds for another platform than this machine's: base images picked per platform, RUN under qemu-user-static
through binfmt_misc (scripts/binfmt registers it), FROM --platform=$BUILDPLATFORM stages native, a clear error
where no emulator is registered, and `slipway run --platform`."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

import build_helpers

pytestmark = pytest.mark.root

# Debian's busybox-static for arm64, unpacked by scripts/setup (scripts/foreign-busybox).
ARM64_BUSYBOX = Path("/usr/local/lib/slipway-tests/arm64/busybox")
SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
GREETING = "Hello from a multi-stage build!"
PRINT_MACHINE = """\
FROM busybox:test
ARG TARGETPLATFORM
RUN echo "machine=$(uname -m) target=$TARGETPLATFORM" && uname -m > /machine
"""


@pytest.fixture(scope="module")
def arm64_busybox_tar(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox rootfs with the arm64 busybox binary (its applets link to it)."""
    if not ARM64_BUSYBOX.is_file():
        pytest.fail(f"{ARM64_BUSYBOX} is missing: run scripts/setup (scripts/foreign-busybox)")
    rootfs = tmp_path_factory.mktemp("busybox-arm64") / "rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    shutil.copy2(ARM64_BUSYBOX, rootfs / "bin" / "busybox")
    archive = rootfs.parent / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."], check=True)
    return archive


@pytest.fixture
def store(own_store: Any, arm64_busybox_tar: Path) -> Any:
    """A store whose busybox:test is there for linux/amd64 and for linux/arm64."""
    own_store.ok(
        "import", "--platform", "linux/arm64", "-c", 'CMD ["sh"]', str(arm64_busybox_tar), "busybox:test"
    )
    return own_store


def context(tmp_path: Path, dockerfile: str) -> Path:
    return build_helpers.load().make_context(tmp_path / "context", dockerfile)  # type: ignore[no-any-return]


def test_an_arm64_build_runs_its_steps_on_arm64(store: Any, tmp_path: Path) -> None:
    built = store.build_ok(
        context(tmp_path, PRINT_MACHINE), "--platform", "linux/arm64", "-t", "machine:arm64"
    )
    assert "machine=aarch64 target=linux/arm64" in built.stdout + built.stderr
    assert store.inspect("machine:arm64")["Architecture"] == "arm64"
    assert store.ok("run", "--rm", "machine:arm64", "cat", "/machine").stdout == "aarch64\n"


def test_one_name_holds_a_base_image_per_platform(store: Any, tmp_path: Path) -> None:
    directory = context(tmp_path, PRINT_MACHINE)
    native = store.build_ok(directory, "-t", "machine:native")
    assert "machine=x86_64 target=linux/amd64" in native.stdout + native.stderr
    foreign = store.build_ok(directory, "--platform", "linux/arm64", "-t", "machine:arm64")
    assert "machine=aarch64 target=linux/arm64" in foreign.stdout + foreign.stderr
    # The name shows this machine's image; --platform picks the other.
    assert store.ok("run", "--rm", "busybox:test", "uname", "-m").stdout == "x86_64\n"
    assert (
        store.ok("run", "--rm", "--platform", "linux/arm64", "busybox:test", "uname", "-m").stdout
        == "aarch64\n"
    )
    rows = [row for row in store.images() if row.repository == "busybox"]
    assert len(rows) == 2, rows


def test_a_build_platform_stage_runs_natively(store: Any, tmp_path: Path) -> None:
    dockerfile = """\
FROM --platform=$BUILDPLATFORM busybox:test AS tools
ARG TARGETARCH BUILDARCH
RUN echo "$(uname -m) builds for $TARGETARCH on $BUILDARCH" > /note
FROM busybox:test
COPY --from=tools /note /note
RUN cat /note && uname -m >> /note
"""
    store.build_ok(context(tmp_path, dockerfile), "--platform", "linux/arm64", "-t", "cross:arm64")
    note = store.ok("run", "--rm", "--platform", "linux/arm64", "cross:arm64", "cat", "/note").stdout
    assert note == "x86_64 builds for arm64 on amd64\naarch64\n"


def test_a_platform_without_an_emulator_is_a_clear_error(
    own_store: Any, busybox_tar: Path, tmp_path: Path
) -> None:
    # mips64le: scripts/binfmt registers no handler for it (its content is amd64's: it must never run).
    own_store.ok("import", "--platform", "linux/mips64le", str(busybox_tar), "busybox:test")
    failed = own_store.build(
        context(tmp_path, PRINT_MACHINE), "--platform", "linux/mips64le", "-t", "never:1"
    )
    assert failed.returncode == 1
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Dockerfile:3: " in last
    assert "linux/mips64le" in last and "qemu-user-static" in last
    assert "x86_64" not in failed.stdout + failed.stderr
    assert "never" not in {row.repository for row in own_store.images()}
    ran = own_store("run", "--rm", "--platform", "linux/mips64le", "busybox:test", "true")
    assert ran.returncode == 1 and "qemu-user-static" in ran.stderr, ran.stderr


def test_a_base_image_missing_for_the_platform_is_not_replaced_by_another(
    own_store: Any, tmp_path: Path
) -> None:
    failed = own_store.build(context(tmp_path, PRINT_MACHINE), "--platform", "linux/s390x", "-t", "never:1")
    assert failed.returncode == 1
    # BuildKit's warning, then the RUN refused: the image's programs are amd64's.
    assert 'was pulled with platform "linux/amd64", expected "linux/s390x"' in failed.stderr
    assert "RUN: the stage's base image is for linux/amd64, not linux/s390x" in failed.stderr
    assert "x86_64" not in failed.stdout + failed.stderr
    assert "never" not in {row.repository for row in own_store.images()}


@pytest.mark.parametrize("platform", ["foo", "linux/", "linux/arm64/v8/x", ""])
def test_an_unknown_platform_is_one_clear_line(own_store: Any, tmp_path: Path, platform: str) -> None:
    failed = own_store.build(context(tmp_path, PRINT_MACHINE), "--platform", platform)
    assert failed.returncode == 2, failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert "platform" in failed.stderr and "Traceback" not in failed.stderr


def test_the_seed_cross_compiles_for_arm64(shared_store: Any, golang_image: str, tmp_path: Path) -> None:
    shared_store.build_ok(
        Path("."), "-f", "multiPlatform", "--platform", "linux/arm64", "-t", "seed:arm64", cwd=SEED
    )
    assert shared_store.inspect("seed:arm64")["Architecture"] == "arm64"
    (layer,) = shared_store.saved_layers("seed:arm64", tmp_path)
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        extracted = tar.extractfile("bin/hello")
        assert extracted is not None
        binary = tmp_path / "hello"
        binary.write_bytes(extracted.read())
    described = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "ARM aarch64" in described, described
    shown = shared_store.ok("run", "--rm", "--platform", "linux/arm64", "seed:arm64").stdout
    assert shown.splitlines()[0] == GREETING


# -- one build for several platforms ---------------------------------------------------------------------------


def read_oci_index(archive: Path) -> tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """An OCI archive's index.json and, for the image index it names, each (descriptor, config)."""
    with tarfile.open(archive) as tar:

        def blob(digest: str) -> Any:
            extracted = tar.extractfile("blobs/" + digest.replace(":", "/"))
            assert extracted is not None
            return json.loads(extracted.read())

        extracted = tar.extractfile("index.json")
        assert extracted is not None
        top = json.loads(extracted.read())
        (entry,) = top["manifests"]
        assert entry["mediaType"] == "application/vnd.oci.image.index.v1+json"
        members = [
            (descriptor, blob(blob(descriptor["digest"])["config"]["digest"]))
            for descriptor in blob(entry["digest"])["manifests"]
        ]
    return top, members


def test_a_build_for_two_platforms_keeps_both_under_one_name(store: Any, tmp_path: Path) -> None:
    built = store.build_ok(
        context(tmp_path, PRINT_MACHINE), "--platform", "linux/amd64,linux/arm64", "-t", "both:v1"
    )
    log = built.stdout + built.stderr
    assert "machine=x86_64 target=linux/amd64" in log and "machine=aarch64 target=linux/arm64" in log
    assert "[linux/arm64 2/2] RUN" in log
    assert store.ok("run", "--rm", "both:v1", "cat", "/machine").stdout == "x86_64\n"
    assert (
        store.ok("run", "--rm", "--platform", "linux/arm64", "both:v1", "cat", "/machine").stdout
        == "aarch64\n"
    )
    listed = store.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.Platform}}").stdout.splitlines()
    assert sorted(line for line in listed if line.startswith("both:")) == [
        "both:v1 linux/amd64",
        "both:v1 linux/arm64",
    ]
    assert "PLATFORM" in store.ok("images").stdout.splitlines()[0]
    # A later build of the name for one platform replaces both: the name never mixes two builds.
    store.build_ok(context(tmp_path / "again", PRINT_MACHINE), "-t", "both:v1")
    failed = store("run", "--rm", "--platform", "linux/arm64", "both:v1", "true")
    assert failed.returncode == 1 and "not for linux/arm64" in failed.stderr


def test_a_build_for_two_platforms_exports_one_oci_index(store: Any, tmp_path: Path) -> None:
    archive = tmp_path / "both.tar"
    quiet = store.ok(
        "build", "-q", "--platform", "linux/amd64,linux/arm64", "-t", "both:oci",
        "-o", f"type=oci,dest={archive}", str(context(tmp_path, PRINT_MACHINE)),
    )  # fmt: skip
    top, members = read_oci_index(archive)
    assert quiet.stdout.strip() == top["manifests"][0]["digest"]  # the index is what the build made
    assert top["manifests"][0]["annotations"]["io.containerd.image.name"] == "docker.io/library/both:oci"
    platforms = [(d["platform"]["os"], d["platform"]["architecture"]) for d, _ in members]
    assert platforms == [("linux", "amd64"), ("linux", "arm64")]
    assert [config["architecture"] for _, config in members] == ["amd64", "arm64"]
    # The same index from the store: `save --format oci` of a name that holds both.
    store.build_ok(
        context(tmp_path / "store", PRINT_MACHINE), "--platform", "linux/amd64,linux/arm64", "-t", "both:v2"
    )
    saved = tmp_path / "saved.tar"
    store.ok("save", "--format", "oci", "-o", str(saved), "both:v2")
    assert [config["architecture"] for _, config in read_oci_index(saved)[1]] == ["amd64", "arm64"]


def test_a_build_for_two_platforms_to_a_directory_and_a_tar(store: Any, tmp_path: Path) -> None:
    directory = context(tmp_path, PRINT_MACHINE)
    out = tmp_path / "out"
    store.build_ok(directory, "--platform", "linux/amd64,linux/arm64", "-o", f"type=local,dest={out}")
    assert (out / "linux_amd64" / "machine").read_text() == "x86_64\n"
    assert (out / "linux_arm64" / "machine").read_text() == "aarch64\n"
    archive = tmp_path / "out.tar"
    store.build_ok(directory, "--platform", "linux/amd64,linux/arm64", "-o", f"type=tar,dest={archive}")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"linux_amd64/machine", "linux_arm64/machine"} <= {name.removeprefix("./") for name in names}


def test_a_docker_archive_of_two_platforms_is_refused(store: Any, tmp_path: Path) -> None:
    failed = store.build(
        context(tmp_path, PRINT_MACHINE), "--platform", "linux/amd64,linux/arm64",
        "-o", f"type=docker,dest={tmp_path / 'x.tar'}",
    )  # fmt: skip
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [failed.stderr.strip()] and "type=oci" in failed.stderr
    assert not (tmp_path / "x.tar").exists()


def test_a_cache_exported_by_a_two_platform_build_holds_both_platforms_steps(
    store: Any, tmp_path: Path
) -> None:
    directory, cache = context(tmp_path, PRINT_MACHINE), tmp_path / "cache"
    both = ("--platform", "linux/amd64,linux/arm64", "--progress", "plain")
    store.build_ok(directory, *both, "--cache-to", f"type=local,dest={cache}")
    store.ok("system", "prune", "-f")  # the store's own step cache gone: only the exported one can answer
    rebuilt = store.build_ok(directory, *both, "--cache-from", f"type=local,src={cache}")
    log = rebuilt.stdout + rebuilt.stderr
    for platform, machine in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        assert f"machine={machine} " not in log, log  # the RUN did not run again
        assert f"[{platform} 2/2] RUN" in log


def test_rmi_of_a_two_platform_name_removes_both_images(store: Any, tmp_path: Path) -> None:
    store.build_ok(
        context(tmp_path, PRINT_MACHINE), "--platform", "linux/amd64,linux/arm64", "-t", "both:rmi"
    )
    before = {row.image_id for row in store.images()}
    removed = store.ok("rmi", "both:rmi").stdout.splitlines()
    assert removed[0] == "Untagged: both:rmi"
    assert len([line for line in removed if line.startswith("Deleted: ")]) == 2, removed
    after = store.images()
    assert not [row for row in after if row.repository in ("both", "<none>")], after  # nothing left dangling
    assert len(before) - len({row.image_id for row in after}) == 2
