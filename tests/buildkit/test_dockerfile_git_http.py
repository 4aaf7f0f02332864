"""BuildKit's frontend/dockerfile/dockerfile_git_http_test.go, ported to slipway (see README.md).

BuildKit's `context` frontend attribute (a git URL, an HTTP URL) is the build's context argument here, as
`docker buildx build URL` takes it; its `filename` attribute is `-f`.
"""

from __future__ import annotations

import pytest

from buildkit._git import git, init_repository
from buildkit._http import RecordingServer, Response, serving_directory
from buildkit._sandbox import Sandbox, tar_bytes

pytestmark = pytest.mark.root

FROM_GIT = "\nFROM busybox AS build\nRUN echo -n fromgit > foo\nFROM scratch\nCOPY --from=build foo bar\n"


def dockerfile_from_git(sandbox: Sandbox, object_format: str) -> None:
    repository = init_repository(sandbox.fresh("git"), object_format)
    (repository / "Dockerfile").write_text(FROM_GIT)
    git(repository, "add", "Dockerfile")
    git(repository, "commit", "-q", "-m", "initial")
    git(repository, "branch", "first")
    (repository / "Dockerfile").write_text(FROM_GIT + "\nCOPY --from=build foo bar2\n")
    git(repository, "add", "Dockerfile")
    git(repository, "commit", "-q", "-m", "second")
    git(repository, "update-server-info")
    with serving_directory(repository) as url:
        out = sandbox.export(url + "/.git#first")
        assert (out / "bar").read_text() == "fromgit"
        assert not (out / "bar2").exists()
        out = sandbox.export(url + "/.git")
        assert (out / "bar").read_text() == "fromgit"
        assert (out / "bar2").read_text() == "fromgit"


# dockerfile_git_http_test.go: testDockerfileFromGitSHA1
def test_dockerfile_from_git_sha1(sandbox: Sandbox) -> None:
    dockerfile_from_git(sandbox, "sha1")


# dockerfile_git_http_test.go: testDockerfileFromGitSHA256
def test_dockerfile_from_git_sha256(sandbox: Sandbox) -> None:
    dockerfile_from_git(sandbox, "sha256")


# dockerfile_git_http_test.go: testDockerfileFromHTTP
def test_dockerfile_from_http(sandbox: Sandbox, http_server: RecordingServer) -> None:
    archive = tar_bytes(
        ("mydockerfile", "FROM scratch\nCOPY foo bar\n", {"mode": 0o600}),
        ("foo", "foo-contents", {"mode": 0o600}),
    )
    http_server.responses["/myurl"] = Response(archive, etag="myurl")
    out = sandbox.export(http_server.url + "/myurl", "-f", "mydockerfile")
    assert (out / "bar").read_text() == "foo-contents"


# dockerfile_git_http_test.go: testHTTPDockerfile
def test_http_dockerfile(sandbox: Sandbox, http_server: RecordingServer) -> None:
    dockerfile = '\nFROM busybox\nRUN echo -n "foo-contents" > /foo\nFROM scratch\nCOPY --from=0 /foo /foo\n'
    http_server.responses["/df"] = Response(dockerfile.encode(), etag="df")
    # this is bogus, any name should work
    out = sandbox.export(http_server.url + "/df", "-f", "mydockerfile")
    assert (out / "foo").read_text() == "foo-contents"
