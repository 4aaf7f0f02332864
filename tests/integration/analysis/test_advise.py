"""`slipway advise` end to end: the seed's single-stage build rewritten and verified, a dynamic program carried
with its loader and libraries, and the cases it must decline without writing a Dockerfile."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import Slipway, copy_shared_libraries, describe, tar_directory

pytestmark = pytest.mark.root

SEED = Path(__file__).resolve().parents[3] / "examples" / "seed"


def test_the_seed_single_stage_build_becomes_a_verified_multi_stage_one_under_3_mb(
    shared_store: Slipway, golang_image: str, tmp_path: Path
) -> None:
    written = tmp_path / "Dockerfile.multistage"
    result = shared_store(
        "advise",
        "-f",
        "singleStage",
        "--verify",
        "--write",
        str(written),
        "--progress",
        "plain",
        ".",
        cwd=SEED,
    )
    assert result.returncode == 0, describe(result)
    assert "both images behave the same" in result.stdout
    text = written.read_text()
    assert text.startswith((SEED / "singleStage").read_text().rstrip("\n"))  # the original stage, unchanged
    assert "FROM scratch" in text and 'COPY --from=0 ["/bin/hello", "/bin/hello"]' in text
    shared_store.build_ok(SEED, "-f", str(written), "-t", "advised:seed")
    sizes = {(row.repository, row.tag): row.size_bytes for row in shared_store.images()}
    assert sizes[("advised", "seed")] < 3e6
    original = shared_store.run_output("frmscratch:v1") if ("frmscratch", "v1") in sizes else None
    rewritten = shared_store.run_output("advised:seed")
    assert rewritten.splitlines()[0] == "Hello from a multi-stage build!"
    assert len(rewritten.splitlines()) == 3
    if original is not None:
        assert rewritten == original


@pytest.fixture(scope="module")
def dynamic_image(
    shared_store: Slipway, busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """busybox plus the host's (dynamically linked) coreutils echo at /usr/local/bin/say, with its libraries."""
    work = tmp_path_factory.mktemp("dynamic")
    rootfs = work / "rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    (rootfs / "usr" / "local" / "bin").mkdir(parents=True)
    shutil.copy2("/bin/echo", rootfs / "usr" / "local" / "bin" / "say")
    copy_shared_libraries(Path("/bin/echo"), rootfs)
    archive = tar_directory(rootfs, work / "rootfs.tar")
    shared_store.ok(
        "import",
        "--change",
        'CMD ["say", "hello", "from", "a", "dynamic", "program"]',
        str(archive),
        "dynamic:test",
    )
    return "dynamic:test"


def test_a_dynamic_program_keeps_its_loader_and_libraries(
    shared_store: Slipway, dynamic_image: str, tmp_path: Path
) -> None:
    written = tmp_path / "Dockerfile"
    result = shared_store(
        "advise",
        "--image",
        dynamic_image,
        "--verify",
        "--write",
        str(written),
        "--progress",
        "quiet",
        cwd=tmp_path,
    )
    assert result.returncode == 0, describe(result)
    text = written.read_text()
    assert text.startswith("FROM docker.io/library/dynamic:test AS build\n")
    assert '"/usr/local/bin/say"' in text
    assert "ld-linux-x86-64.so.2" in text and "libc.so.6" in text
    assert "/bin/busybox" not in text
    assert "dynamically linked" in result.stdout


def test_an_image_without_a_command_is_declined(
    shared_store: Slipway, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "context", "FROM scratch\nCOPY data.txt /data.txt\n", {"data.txt": "x"})
    written = tmp_path / "out"
    result = shared_store("advise", "--write", str(written), "--progress", "quiet", str(context))
    assert result.returncode == 1, describe(result)
    assert "No rewrite: the image has no CMD or ENTRYPOINT" in result.stdout
    assert not written.exists()


def test_a_dockerfile_that_fails_to_build_is_declined(
    shared_store: Slipway, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "context", 'FROM busybox:test\nRUN exit 3\nCMD ["true"]\n')
    result = shared_store("advise", "--write", str(tmp_path / "out"), "--progress", "quiet", str(context))
    assert result.returncode == 1, describe(result)
    assert "No rewrite: the Dockerfile does not build" in result.stdout
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_program_reading_build_files_at_run_time_fails_verification(
    shared_store: Slipway, golang_image: str, make_context: Any, tmp_path: Path
) -> None:
    dockerfile = (
        f'FROM {golang_image}\nWORKDIR /app\nCOPY settings.txt .\nCMD ["/bin/cat", "/app/settings.txt"]\n'
    )
    context = make_context(tmp_path / "context", dockerfile, {"settings.txt": "colour=blue\n"})
    unverified = shared_store("advise", "--progress", "quiet", str(context))
    assert unverified.returncode == 0, describe(unverified)
    assert "unverified" in unverified.stdout
    written = tmp_path / "out"
    result = shared_store("advise", "--verify", "--write", str(written), "--progress", "quiet", str(context))
    assert result.returncode == 1, describe(result)
    assert "No rewrite: the rewritten image behaves differently" in result.stdout
    assert "colour=blue" in result.stdout
    assert not written.exists()


def test_a_shell_script_entrypoint_keeps_the_base(
    shared_store: Slipway, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "context",
        'FROM busybox:test\nCOPY run.sh /run.sh\nENTRYPOINT ["/run.sh"]\n',
        {"run.sh": "#!/bin/sh\necho hi\n"},
    )
    result = shared_store("advise", "--progress", "quiet", str(context))
    assert result.returncode == 1, describe(result)
    assert "/run.sh is a script run by /bin/sh" in result.stdout and "keep the base image" in result.stdout
