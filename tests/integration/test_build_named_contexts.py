"""--build-context NAME=... (a directory, an image, a stage, a URL, a git repository) as FROM NAME, COPY --from=NAME
and RUN --mount=from=NAME read it, and --metadata-file."""

from __future__ import annotations

import json
import subprocess
import tarfile
from functools import partial
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

GIT_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1"}


def test_a_named_directory_for_from_copy_and_mount(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    shared = make_context(tmp_path / "shared", None, {"lib.txt": "shared lib\n", "secret.key": "no\n"})
    (shared / ".dockerignore").write_text("secret.key\n")
    dockerfile = (
        "FROM busybox:test\n"
        "COPY --from=libs /lib.txt /copied.txt\n"
        "RUN --mount=from=libs,target=/mnt cat /mnt/lib.txt > /mounted.txt && ls /mnt > /listed.txt\n"
        "FROM libs AS files\n"
        "FROM busybox:test\n"
        "COPY --from=0 /copied.txt /mounted.txt /listed.txt /\n"
        "COPY --from=files /lib.txt /from-stage.txt\n"
    )
    context = make_context(tmp_path / "ctx", dockerfile)
    shared_store.build_ok(context, "--build-context", f"libs={shared}", "-t", f"named-dir:{token}")
    show = partial(shared_store.run_output, f"named-dir:{token}", "cat")
    assert show("/copied.txt") == show("/mounted.txt") == show("/from-stage.txt") == "shared lib\n"
    assert show("/listed.txt") == "lib.txt\n", "the .dockerignore of the named directory applies"


def test_a_named_directory_is_read_again_on_every_build(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    shared = make_context(tmp_path / "shared", None, {"v.txt": "one\n"})
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nCOPY --from=input /v.txt /v.txt\n")
    name = f"named-again:{token}"
    shared_store.build_ok(context, "--build-context", f"input={shared}", "-t", name)
    assert shared_store.run_output(name, "cat", "/v.txt") == "one\n"
    (shared / "v.txt").write_text("two\n")
    shared_store.build_ok(context, "--build-context", f"input={shared}", "-t", name)
    assert shared_store.run_output(name, "cat", "/v.txt") == "two\n"


def test_an_image_and_a_stage_replace_what_a_name_means(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    dockerfile = (
        "FROM busybox:test AS helper\nRUN echo from-helper > /helper.txt\n"
        "FROM alpine:3.99 AS base\nRUN echo never-runs > /base.txt\n"
        "FROM base\nRUN test ! -f /base.txt && cat /helper.txt > /final.txt\n"
    )
    context = make_context(tmp_path / "ctx", dockerfile)
    name = f"named-stage:{token}"
    shared_store.build_ok(
        context,
        "--build-context", "alpine:3.99=docker-image://busybox:test",
        "--build-context", "base=target:helper",
        "-t", name,
    )  # fmt: skip
    assert shared_store.run_output(name, "cat", "/final.txt") == "from-helper\n"


def git(directory: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=directory, env=GIT_ENV, capture_output=True, check=True)


def test_a_url_and_a_git_repository_as_named_contexts(
    shared_store: Any, make_context: Any, serve_directory: Any, tmp_path: Path, token: str
) -> None:
    served = make_context(tmp_path / "served", None, {"notes.txt": "downloaded\n"})
    repository = make_context(tmp_path / "served" / "repo", None, {"src/main.txt": "from git\n"})
    git(repository, "init", "-q")
    git(repository, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "add", ".")
    git(repository, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q", "-m", "one")
    git(repository, "update-server-info")
    dockerfile = (
        "FROM busybox:test\nCOPY --from=notes /context /notes.txt\nCOPY --from=code /main.txt /main.txt\n"
    )
    context = make_context(tmp_path / "ctx", dockerfile)
    name = f"named-remote:{token}"
    with serve_directory(served) as url:
        shared_store.build_ok(
            context,
            "--build-context", f"notes={url}/notes.txt",
            "--build-context", f"code={url}/repo/.git#:src",
            "-t", name,
        )  # fmt: skip
    assert shared_store.run_output(name, "cat", "/notes.txt") == "downloaded\n"
    assert shared_store.run_output(name, "cat", "/main.txt") == "from git\n"


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("nonsense", "expected NAME=VALUE"),
        ("base=/nonexistent/dir", "not a directory"),
        ("base=docker-image://missing-image:none", "missing-image:none"),
        ("base=oci-layout:///nonexistent@sha256:" + "0" * 64, "not an OCI layout directory"),
        ("base=ftp://example.invalid/x", "unsupported context source"),
    ],
)
def test_bad_named_contexts_are_one_line(
    own_store: Any, make_context: Any, tmp_path: Path, flag: str, expected: str
) -> None:
    context = make_context(tmp_path / "ctx", "FROM base\n")
    result = own_store.build(context, "--build-context", flag, env={"SLIPWAY_PULL_POLICY": "never"})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [
        line for line in result.stderr.splitlines() if line.startswith(("error:", "ERROR: failed to solve"))
    ]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert [row.repository for row in own_store.images()] == ["busybox"]
    assert list((own_store.root / "tmp").iterdir()) == []


def test_metadata_file_names_the_image_as_buildkit(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(tmp_path / "ctx", f"FROM busybox:test\nLABEL metadata={token}\n")
    metadata_file = tmp_path / "metadata.json"
    name = f"metadata:{token}"
    shared_store.build_ok(context, "-t", name, "--metadata-file", str(metadata_file))
    metadata = json.loads(metadata_file.read_text())
    saved = tmp_path / "saved.tar"
    shared_store.ok("save", "--format", "oci", "-o", str(saved), name)
    with tarfile.open(saved) as archive:
        index = json.load(archive.extractfile("index.json"))  # type: ignore[arg-type]
    saved_manifest = index["manifests"][0]
    assert metadata == {
        "containerimage.config.digest": shared_store.image_id(name),
        "containerimage.descriptor": {
            "mediaType": saved_manifest["mediaType"],
            "digest": saved_manifest["digest"],
            "size": saved_manifest["size"],
        },
        "containerimage.digest": saved_manifest["digest"],
        "image.name": f"docker.io/library/{name}",
    }
    # A rebuild that changes nothing still writes it (the build memo, which knows no manifest, steps aside).
    metadata_file.unlink()
    shared_store.build_ok(context, "-t", name, "--metadata-file", str(metadata_file))
    assert json.loads(metadata_file.read_text()) == metadata
