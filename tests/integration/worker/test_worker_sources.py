"""ADD's remote sources: a download from a loopback HTTP server, a checkout of a local git repository."""

from __future__ import annotations

import hashlib
import http.server
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback_server import serving_http
from slipway.errors import ContextError
from slipway.graph.ops import GitSource, HttpSource
from slipway.worker.git import check_out
from slipway.worker.sources import download, download_name, fetch_url, is_unchanged

PAYLOAD = b"downloaded bytes\n"
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
ETAG = '"v1"'


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/files/app.tar.gz")
            self.end_headers()
            return
        if not self.path.startswith("/files/"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's name)
        # The validators a rebuild sends: this server knows one ETag and one time.
        unchanged = self.headers.get("If-None-Match") == ETAG or self.headers.get("If-Modified-Since") == (
            LAST_MODIFIED
        )
        self.send_response(304 if unchanged else 200)
        self.send_header("ETag", ETAG)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving_http(Handler) as url:
        yield url


def test_a_rebuild_asks_the_server_with_the_validators_it_was_given(server: str, tmp_path: Path) -> None:
    got = download(HttpSource(url=f"{server}/files/a", filename="a"), tmp_path)
    assert (got.last_modified, got.etag) == (LAST_MODIFIED, None)
    assert is_unchanged(f"{server}/files/a", None, LAST_MODIFIED)
    assert is_unchanged(f"{server}/files/a", ETAG, None)
    assert is_unchanged(f"{server}/files/a", '"other"', None) is False
    assert is_unchanged(f"{server}/files/a", None, None) is False  # nothing to ask with: download again
    assert is_unchanged("http://127.0.0.1:9/gone", ETAG, None) is False  # no answer is a change


def test_a_download_is_one_file_with_mode_0600_and_the_server_s_mtime(server: str, tmp_path: Path) -> None:
    target = fetch_url(HttpSource(url=f"{server}/files/app.tar.gz", filename="app.tar.gz"), tmp_path)
    assert target == tmp_path / "app.tar.gz"
    assert target.read_bytes() == PAYLOAD
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.stat(target).st_mtime == 1445412480
    assert os.listdir(tmp_path) == ["app.tar.gz"]


def test_redirects_are_followed_and_a_checksum_is_checked(server: str, tmp_path: Path) -> None:
    good = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()
    fetch_url(HttpSource(url=f"{server}/moved", filename="x", checksum=good), tmp_path)
    assert (tmp_path / "x").read_bytes() == PAYLOAD
    bad = "sha256:" + "0" * 64
    with pytest.raises(ContextError, match="checksum mismatch"):
        fetch_url(HttpSource(url=f"{server}/files/y", filename="y", checksum=bad), tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["x"]


def test_a_missing_file_and_a_refused_connection_are_context_errors(server: str, tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="404"):
        fetch_url(HttpSource(url=f"{server}/nothing", filename="n"), tmp_path)
    with pytest.raises(ContextError, match="download failed"):
        fetch_url(HttpSource(url="http://127.0.0.1:9/x", filename="n"), tmp_path)
    assert os.listdir(tmp_path) == []


def test_download_names() -> None:
    assert download_name("https://example.com/a/b/tool.tgz?x=1") == "tool.tgz"
    assert download_name("https://example.com/") == "index.html"
    assert download_name("https://example.com/with%20space") == "with space"


def git(*args: str, cwd: Path) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd),
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A local repository: v1 tagged, then main moves on. (file:// URL, first commit id)."""
    work = tmp_path_factory.mktemp("repo")
    git("init", "-q", "-b", "main", cwd=work)
    (work / "file.txt").write_text("v1\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "one", cwd=work)
    git("tag", "v1", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work).strip()
    (work / "file.txt").write_text("v2\n")
    git("commit", "-q", "-am", "two", cwd=work)
    return f"file://{work}", first


@pytest.mark.parametrize(
    ("ref", "content"), [(None, "v2\n"), ("main", "v2\n"), ("v1", "v1\n"), ("first", "v1\n")]
)
def test_a_checkout_at_a_branch_tag_or_commit(
    repository: tuple[str, str], tmp_path: Path, ref: str | None, content: str
) -> None:
    url, first = repository
    check_out(GitSource(url=url, ref=first if ref == "first" else ref), tmp_path / "tree", "ADD test")
    assert (tmp_path / "tree" / "file.txt").read_text() == content
    assert sorted(os.listdir(tmp_path / "tree")) == ["file.txt"]


def test_keep_git_dir(repository: tuple[str, str], tmp_path: Path) -> None:
    url, _ = repository
    check_out(GitSource(url=url, ref="v1", keep_git_dir=True), tmp_path / "tree", "ADD test")
    assert (tmp_path / "tree" / ".git").is_dir()


def test_a_missing_ref_is_a_context_error(repository: tuple[str, str], tmp_path: Path) -> None:
    url, _ = repository
    with pytest.raises(ContextError, match="does not contain ref no-such-branch"):
        check_out(GitSource(url=url, ref="no-such-branch"), tmp_path / "tree", "ADD test")
