"""Symlinks never let a build read or write the host: a context symlink to /etc, and an image symlink to /etc
as a COPY destination. BuildKit resolves a context symlink inside the context root; an error is also fine.
The host's files are never copied in, and nothing is written outside the store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.root, pytest.mark.rootless_too]

SENTINEL = "sentinel: the context's own etc/passwd\n"


def host_etc_fingerprint() -> dict[str, str]:
    """Names and hashes of the host's /etc top-level files (to show nothing there changed)."""
    found = {}
    for entry in sorted(Path("/etc").iterdir()):
        if entry.is_file() and not entry.is_symlink():
            try:
                found[entry.name] = hashlib.sha256(entry.read_bytes()).hexdigest()
            except OSError:
                continue
        else:
            found[entry.name] = "not a regular file"
    return found


def symlink_context(make_context: Any, directory: Path, dockerfile: str) -> Path:
    context = make_context(directory, dockerfile, {"etc/passwd": SENTINEL})
    (context / "etclink").symlink_to("/etc")
    return context


def test_copy_through_a_context_symlink_to_etc_never_reads_the_host(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = symlink_context(make_context, tmp_path / "ctx", "FROM busybox:test\nCOPY etclink/passwd /x\n")
    result = shared_store.build(context, "-t", f"symlink-file:{token}")
    if result.returncode != 0:
        assert "Traceback" not in result.stderr, result.stderr
        assert "etclink" in result.stderr or "passwd" in result.stderr, result.stderr
        return
    copied = shared_store.run_output(f"symlink-file:{token}", "cat", "/x")
    assert copied != Path("/etc/passwd").read_text(), "the host's /etc/passwd was copied into the image"
    assert copied == SENTINEL


def test_copy_of_a_context_symlink_to_etc_as_a_directory_never_reads_the_host(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = symlink_context(make_context, tmp_path / "ctx", "FROM busybox:test\nCOPY etclink /y/\n")
    result = shared_store.build(context, "-t", f"symlink-dir:{token}")
    if result.returncode != 0:
        assert "Traceback" not in result.stderr, result.stderr
        assert "etclink" in result.stderr, result.stderr
        return
    image = f"symlink-dir:{token}"
    listing = shared_store.run_output(image, "find", "/y").split()
    host_only = {
        name for name in os.listdir("/etc") if not (context / "etc" / name).exists() and name != "passwd"
    }
    leaked = {path for path in listing if path.removeprefix("/y/").split("/")[0] in host_only}
    assert not leaked, f"host /etc entries copied into the image: {sorted(leaked)[:10]}"
    if "/y/passwd" in listing:
        assert shared_store.run_output(image, "cat", "/y/passwd") == SENTINEL


def test_nothing_is_written_outside_the_store_through_context_symlinks(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    before = host_etc_fingerprint()
    context = symlink_context(
        make_context,
        tmp_path / "ctx",
        f"FROM busybox:test\nCOPY etclink/passwd /x-{token}\nCOPY etclink /y-{token}/\n",
    )
    shared_store.build(context, "-t", f"symlink-writes:{token}")
    assert host_etc_fingerprint() == before
    assert not Path(f"/x-{token}").exists()
    assert not Path(f"/y-{token}").exists()
    assert (context / "etc" / "passwd").read_text() == SENTINEL
    assert sorted(path.name for path in context.iterdir()) == ["Dockerfile", "etc", "etclink"]


def test_copy_to_an_image_symlink_to_etc_lands_in_the_image(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    base = make_context(tmp_path / "base", "FROM busybox:test\nRUN ln -s /etc /danger\n")
    shared_store.build_ok(base, "-t", f"danger-base:{token}")
    name = f"slipway-test-{token}"
    context = make_context(
        tmp_path / "ctx",
        f"FROM danger-base:{token}\nCOPY file.txt /danger/{name}\nCOPY file.txt /danger/../../../../{name}-up\n",
        {"file.txt": "lands in the image\n"},
    )
    before = host_etc_fingerprint()
    shared_store.build_ok(context, "-t", f"danger-child:{token}")
    assert not Path("/etc", name).exists(), "COPY wrote into the host's /etc"
    assert not Path("/", f"{name}-up").exists(), "COPY wrote outside the image through ../"
    assert host_etc_fingerprint() == before
    image = f"danger-child:{token}"
    assert shared_store.run_output(image, "cat", f"/etc/{name}") == "lands in the image\n"
    assert shared_store.run_output(image, "cat", f"/{name}-up") == "lands in the image\n"
    assert shared_store.run_output(image, "readlink", "/danger") == "/etc\n"
