"""Build contexts that are not a local directory: a Dockerfile or a tar archive on stdin, an http(s) URL, a git
URL; and what a hostile one must not do (leave the extraction directory, read host files, leave anything
behind in the store)."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import zstandard

from loopback_server import free_port, wait_until_listening

pytestmark = pytest.mark.root

GIT_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1"}


def tar_of(*members: tuple[str, bytes | str, str]) -> bytes:
    """A tar archive of (name, content or link target, kind) members; kind is "file", "symlink", "chr"."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, content, kind in members:
            info = tarfile.TarInfo(name)
            data = content.encode() if isinstance(content, str) else content
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data.decode()
                archive.addfile(info)
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                archive.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def build_stdin(store: Any, data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        store.argv("build", "--progress", "plain", *args, "-"), input=data, capture_output=True, check=False
    )


def store_state(store: Any) -> tuple[list[tuple[str, str, str]], list[str]]:
    """What a failed build must leave as it was: the images, and nothing in the store's tmp/."""
    tmp = store.root / "tmp"
    images = sorted((row.repository, row.tag, row.image_id) for row in store.images())
    return images, sorted(path.name for path in tmp.iterdir()) if tmp.exists() else []


def error_lines_of(stderr: str) -> list[str]:
    """The one line a failed build ends with (BuildKit's "ERROR: failed to solve: ..." or "error: ...")."""
    return [line for line in stderr.splitlines() if line.startswith(("error:", "ERROR: failed to solve"))]


def assert_clean_failure(result: subprocess.CompletedProcess[bytes], *expected: str) -> str:
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode != 0, stderr
    assert "Traceback" not in stderr, stderr
    error_lines = error_lines_of(stderr)
    assert len(error_lines) == 1, stderr
    for text in expected:
        assert text in error_lines[0], stderr
    return error_lines[0]


def test_a_dockerfile_on_stdin_builds_without_a_context(shared_store: Any, token: str) -> None:
    dockerfile = f"FROM busybox:test\nRUN echo stdin-{token} > /made\n"
    result = build_stdin(shared_store, dockerfile.encode(), "-t", f"stdin-df:{token}")
    assert result.returncode == 0, result.stderr.decode()
    assert shared_store.run_output(f"stdin-df:{token}", "cat", "/made") == f"stdin-{token}\n"


def test_a_dockerfile_on_stdin_has_an_empty_context(own_store: Any) -> None:
    before = store_state(own_store)
    result = build_stdin(own_store, b"FROM busybox:test\nCOPY anything /\n")
    assert_clean_failure(result, "anything")
    assert store_state(own_store) == before


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_a_tar_archive_on_stdin_is_the_context(shared_store: Any, token: str, compression: str) -> None:
    archive = tar_of(
        ("Dockerfile", "FROM busybox:test\nCOPY data.txt /data.txt\n", "file"),
        ("data.txt", f"from the {compression} archive\n", "file"),
    )
    if compression == "gzip":
        archive = gzip.compress(archive)
    elif compression == "zstd":
        archive = zstandard.ZstdCompressor().compress(archive)
    result = build_stdin(shared_store, archive, "-t", f"stdin-tar-{compression}:{token}")
    assert result.returncode == 0, result.stderr.decode()
    output = shared_store.run_output(f"stdin-tar-{compression}:{token}", "cat", "/data.txt")
    assert output == f"from the {compression} archive\n"


def test_a_tar_on_stdin_with_a_dockerfile_outside_it(shared_store: Any, tmp_path: Path, token: str) -> None:
    dockerfile = tmp_path / "elsewhere" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM busybox:test\nCOPY inside.txt /inside.txt\n")
    archive = tar_of(("inside.txt", "in the tar\n", "file"))
    result = build_stdin(shared_store, archive, "-f", str(dockerfile), "-t", f"stdin-f:{token}")
    assert result.returncode == 0, result.stderr.decode()
    assert shared_store.run_output(f"stdin-f:{token}", "cat", "/inside.txt") == "in the tar\n"


def test_a_tar_entry_leaving_the_context_is_refused(own_store: Any, tmp_path: Path) -> None:
    target = tmp_path / "escaped"
    archive = tar_of(
        ("Dockerfile", "FROM busybox:test\n", "file"), (f"../../../../../../..{target}", "owned\n", "file")
    )
    before = store_state(own_store)
    assert_clean_failure(build_stdin(own_store, archive), "outside the extraction dir")
    assert not target.exists()
    assert store_state(own_store) == before


def test_an_absolute_symlink_in_a_tar_context_stays_inside(own_store: Any, tmp_path: Path) -> None:
    host_file = tmp_path / "host-dockerfile"
    host_file.write_text("FROM busybox:test\nLABEL leaked=yes\n")
    archive = tar_of(("Dockerfile", str(host_file), "symlink"))
    before = store_state(own_store)
    # The link resolves inside the unpacked context, where nothing is at that path: the host's file is not read.
    assert_clean_failure(build_stdin(own_store, archive), "Dockerfile")
    assert store_state(own_store) == before


def test_a_linked_dockerignore_and_a_device_node_are_refused(own_store: Any) -> None:
    linked = tar_of(
        ("Dockerfile", "FROM busybox:test\n", "file"), (".dockerignore", "/etc/shadow", "symlink")
    )
    assert_clean_failure(build_stdin(own_store, linked), ".dockerignore")
    device = tar_of(("Dockerfile", "FROM busybox:test\n", "file"), ("null", "", "chr"))
    assert_clean_failure(build_stdin(own_store, device), "device node")


def test_stdin_cannot_be_both_the_context_and_the_dockerfile(own_store: Any) -> None:
    assert_clean_failure(build_stdin(own_store, b"FROM busybox:test\n", "-f", "-"), "stdin")


def test_a_url_context_is_a_tar_or_a_dockerfile(
    shared_store: Any, serve_directory: Any, tmp_path: Path, token: str
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "context.tar.gz").write_bytes(
        gzip.compress(
            tar_of(("Dockerfile", "FROM busybox:test\nCOPY f /f\n", "file"), ("f", "from the url\n", "file"))
        )
    )
    (served / "Dockerfile.plain").write_text(f"FROM busybox:test\nRUN echo plain-{token} > /p\n")
    with serve_directory(served) as url:
        shared_store.build_ok(f"{url}/context.tar.gz", "-t", f"url-tar:{token}")  # type: ignore[arg-type]
        shared_store.build_ok(f"{url}/Dockerfile.plain", "-t", f"url-df:{token}")  # type: ignore[arg-type]
        missing = shared_store.build(f"{url}/nothing.tar")  # type: ignore[arg-type]
    assert shared_store.run_output(f"url-tar:{token}", "cat", "/f") == "from the url\n"
    assert shared_store.run_output(f"url-df:{token}", "cat", "/p") == f"plain-{token}\n"
    assert missing.returncode != 0 and "404" in missing.stderr, missing.stderr


def git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=directory, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repository(directory: Path) -> Path:
    directory.mkdir()
    git(directory, "init", "-q")
    git(directory, "config", "user.email", "test@example.invalid")
    git(directory, "config", "user.name", "test")
    (directory / "app").mkdir()
    (directory / "app" / "Dockerfile").write_text("FROM busybox:test\nCOPY hello.txt /hello.txt\n")
    (directory / "app" / "hello.txt").write_text("hello from v1\n")
    git(directory, "add", ".")
    git(directory, "commit", "-q", "-m", "v1")
    git(directory, "tag", "v1")
    (directory / "app" / "hello.txt").write_text("hello from main\n")
    git(directory, "commit", "-q", "-am", "main")
    git(directory, "update-server-info")
    return directory


def test_a_git_url_context_and_its_errors(
    shared_store: Any, serve_directory: Any, tmp_path: Path, token: str
) -> None:
    repository = make_repository(tmp_path / "repo")
    with serve_directory(repository) as url:
        shared_store.build_ok(f"{url}/.git#v1:app", "-t", f"git-v1:{token}")  # type: ignore[arg-type]
        shared_store.build_ok(f"{url}/.git#:app", "-t", f"git-head:{token}")  # type: ignore[arg-type]
        before = store_state(shared_store)
        bad_ref = shared_store.build(f"{url}/.git#no-such-ref:app")  # type: ignore[arg-type]
        bad_subdir = shared_store.build(f"{url}/.git#v1:nowhere")  # type: ignore[arg-type]
    unreachable = shared_store.build("http://127.0.0.1:9/none.git")  # type: ignore[arg-type]
    assert shared_store.run_output(f"git-v1:{token}", "cat", "/hello.txt") == "hello from v1\n"
    assert shared_store.run_output(f"git-head:{token}", "cat", "/hello.txt") == "hello from main\n"
    for result, expected in (
        (bad_ref, "does not contain ref no-such-ref"),
        (bad_subdir, "no directory 'nowhere'"),
        (unreachable, "http://127.0.0.1:9/none.git"),
    ):
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        errors = error_lines_of(result.stderr)
        assert len(errors) == 1 and expected in errors[0], result.stderr
    assert store_state(shared_store)[1] == before[1]


@contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """`git daemon` on loopback (the smart protocol, which fetches shallow), stopped by its PID."""
    port = free_port()
    argv = ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}", "--listen=127.0.0.1"]
    daemon = subprocess.Popen([*argv, f"--port={port}", str(base)], env=GIT_ENV, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, daemon, "git daemon")
        yield f"git://127.0.0.1:{port}"
    finally:
        daemon.terminate()
        daemon.wait()


def test_a_git_context_over_the_smart_protocol(shared_store: Any, tmp_path: Path, token: str) -> None:
    make_repository(tmp_path / "repo")
    git(tmp_path / "repo", "tag", "-a", "-m", "annotated", "v2")  # an annotated tag is peeled to its commit
    with git_daemon(tmp_path) as url:
        shared_store.build_ok(f"{url}/repo#v1:app", "-t", f"git-daemon-v1:{token}")  # type: ignore[arg-type]
        shared_store.build_ok(f"{url}/repo#v2:app", "-t", f"git-daemon-v2:{token}")  # type: ignore[arg-type]
        wrong = shared_store.build(f"{url}/repo?tag=v1&commit=0000000&subdir=app")  # type: ignore[arg-type]
    assert shared_store.run_output(f"git-daemon-v1:{token}", "cat", "/hello.txt") == "hello from v1\n"
    assert shared_store.run_output(f"git-daemon-v2:{token}", "cat", "/hello.txt") == "hello from main\n"
    assert wrong.returncode != 0 and "expected checksum to match 0000000" in wrong.stderr, wrong.stderr
