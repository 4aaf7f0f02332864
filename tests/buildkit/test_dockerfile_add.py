"""BuildKit's frontend/dockerfile/dockerfile_add_test.go, ported to slipway (see README.md).

BuildKit's httpserver.NewTestServer is a loopback server here (`http_server`); BuildKit asserts that its
requests carry a `buildkit/v...` User-Agent, slipway is not BuildKit: the port asserts a User-Agent is sent.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from buildkit._http import RecordingServer, Response
from buildkit._sandbox import Sandbox, file, regular_member, tar_bytes

pytestmark = pytest.mark.root


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# dockerfile_add_test.go: testDockerfileADDFromURL
def test_dockerfile_add_from_url(sandbox: Sandbox, http_server: RecordingServer) -> None:
    mod_time = datetime.now(UTC) - timedelta(hours=24)  # avoid false positive with current time
    http_server.responses["/foo"] = Response(b"content1", etag=os.urandom(8).hex())
    http_server.responses["/"] = Response(b"content2", etag=os.urandom(8).hex(), last_modified=mod_time)

    context = sandbox.context(f"\nFROM scratch\nADD {http_server.url}/foo /dest/\n")
    assert (sandbox.export(context) / "dest/foo").read_bytes() == b"content1"
    # run again to test HEAD request
    sandbox.build_ok(context)

    # test the default properties
    context = sandbox.context(f"\nFROM scratch\nADD {http_server.url}/ /dest/\n")
    destination = sandbox.export(context) / "dest/__unnamed__"
    assert destination.read_bytes() == b"content2"
    modified = datetime.fromtimestamp(destination.stat().st_mtime, UTC)
    assert format_datetime(modified, usegmt=True) == format_datetime(
        mod_time.replace(microsecond=0), usegmt=True
    )

    requests = http_server.stats("/foo")
    assert [request.method for request in requests] == ["GET", "HEAD"]
    assert all(request.headers.get("user-agent") for request in requests)


TAR_FOO = tar_bytes(regular_member("foo", "content0"))


# dockerfile_add_test.go: testDockerfileAddArchive
def test_dockerfile_add_archive(sandbox: Sandbox, http_server: RecordingServer) -> None:
    out = sandbox.export(sandbox.context("\nFROM scratch\nADD t.tar /\n", file("t.tar", TAR_FOO)))
    assert (out / "foo").read_bytes() == b"content0"

    # add gzip tar
    gzipped = gzip.compress(TAR_FOO)
    out = sandbox.export(sandbox.context("\nFROM scratch\nADD t.tar.gz /\n", file("t.tar.gz", gzipped)))
    assert (out / "foo").read_bytes() == b"content0"

    # add with unpack=false
    context = sandbox.context(
        "\n\tFROM scratch\n\tADD --unpack=false t.tar.gz /\n\t", file("t.tar.gz", gzipped)
    )
    out = sandbox.export(context)
    assert not (out / "foo").exists()
    assert (out / "t.tar.gz").read_bytes() == gzipped

    # COPY doesn't extract
    out = sandbox.export(sandbox.context("\nFROM scratch\nCOPY t.tar.gz /\n", file("t.tar.gz", gzipped)))
    assert (out / "t.tar.gz").read_bytes() == gzipped

    # ADD from URL doesn't extract
    http_server.responses["/t.tar.gz"] = Response(gzipped, etag=os.urandom(8).hex())
    out = sandbox.export(sandbox.context(f"\nFROM scratch\nADD {http_server.url}/t.tar.gz /\n"))
    assert (out / "t.tar.gz").read_bytes() == gzipped

    # ADD from URL with --unpack=true
    out = sandbox.export(
        sandbox.context(f"\nFROM scratch\nADD --unpack=true {http_server.url}/t.tar.gz /dest/\n")
    )
    assert (out / "dest/foo").read_bytes() == b"content0"

    # https://github.com/moby/buildkit/issues/386
    out = sandbox.export(sandbox.context(f"\nFROM scratch\nADD {http_server.url}/t.tar.gz /newname.tar.gz\n"))
    assert (out / "newname.tar.gz").read_bytes() == gzipped


# dockerfile_add_test.go: testDockerfileAddArchiveWithImpliedParentDir (moby/moby#53257)
def test_dockerfile_add_archive_with_implied_parent_dir(sandbox: Sandbox) -> None:
    archive = tar_bytes(
        ("etc/dnf/", None, {"type": tarfile.DIRTYPE, "mode": 0o755}),
        regular_member("etc/dnf/dnf.conf", "content0"),
        gzipped=True,
    )
    out = sandbox.export(sandbox.context("\nFROM scratch\nADD t.tar.gz /\n", file("t.tar.gz", archive)))
    assert (out / "etc/dnf/dnf.conf").read_bytes() == b"content0"


# dockerfile_add_test.go: testDockerfileAddArchiveThroughAbsoluteSymlink (moby/moby#53258)
def test_dockerfile_add_archive_through_absolute_symlink(sandbox: Sandbox) -> None:
    def directory(name: str) -> tuple[str, None, dict[str, object]]:
        return (name, None, {"type": tarfile.DIRTYPE, "mode": 0o755})

    rootfs = tar_bytes(
        directory("run/"),
        directory("var/"),
        ("var/run", None, {"type": tarfile.SYMTYPE, "linkname": "/run", "mode": 0o777}),
    )
    content = b"ref: refs/heads/main\n"
    # Keep parent directories explicit so this isolates extraction through the
    # absolute symlink from implied parent directory handling.
    payload = tar_bytes(
        directory("var/run/act/"),
        directory("var/run/act/actions/"),
        directory("var/run/act/actions/broad/"),
        directory("var/run/act/actions/broad/.git/"),
        regular_member("var/run/act/actions/broad/.git/HEAD", content),
        (
            "var/run/act/actions/broad/.git/HEAD.link",
            None,
            {"type": tarfile.LNKTYPE, "linkname": "var/run/act/actions/broad/.git/HEAD", "mode": 0o644},
        ),
    )
    context = sandbox.context(
        "\nFROM scratch\nADD rootfs.tar /\nADD payload.tar /\n",
        file("rootfs.tar", rootfs),
        file("payload.tar", payload),
    )
    out = sandbox.export(context)
    head = out / "run/act/actions/broad/.git/HEAD"
    link = out / "run/act/actions/broad/.git/HEAD.link"
    assert head.read_bytes() == content
    assert link.read_bytes() == content
    assert os.path.samefile(head, link)


# dockerfile_add_test.go: testDockerfileAddChownArchive
def test_dockerfile_add_chown_archive(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nADD --chown=100:200 t.tar /out/\n", file("t.tar", TAR_FOO))
    members = sandbox.export_tar(context)
    info, data = members["out/foo"]
    assert data == b"content0"
    assert (info.uid, info.gid) == (100, 200)
    info, _ = members["out/"]
    assert (info.uid, info.gid) == (100, 200)


# dockerfile_add_test.go: testDockerfileAddArchiveWildcard
def test_dockerfile_add_archive_wildcard(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch\nADD *.tar /dest\n",
        file("t.tar", TAR_FOO),
        file("b.tar", tar_bytes(regular_member("bar", "content1"))),
    )
    out = sandbox.export(context)
    assert (out / "dest/foo").read_text() == "content0"
    assert (out / "dest/bar").read_text() == "content1"


# dockerfile_add_test.go: testDockerfileAddChownExpand
def test_dockerfile_add_chown_expand(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
ARG group
ENV owner 1000
ADD --chown=${owner}:${group} foo /
RUN [ "$(stat -c "%u %G" /foo)" == "1000 nobody" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile, file("foo", "foo-contents")), "--build-arg", "group=nobody")


# dockerfile_add_test.go: testAddURLChmod
def test_add_url_chmod(sandbox: Sandbox, http_server: RecordingServer) -> None:
    http_server.responses["/foo"] = Response(b"content1", etag=os.urandom(8).hex())
    url = http_server.url + "/foo"
    dockerfile = f"""
FROM busybox AS build
ADD --chmod=644 {url} /tmp/foo1
ADD --chmod=755 {url} /tmp/foo2
ADD --chmod=0413 {url} /tmp/foo3

ARG mode
ADD --chmod=${{mode}} {url} /tmp/foo4

RUN stat -c "%04a" /tmp/foo1 >> /dest && \\
\tstat -c "%04a" /tmp/foo2 >> /dest && \\
\tstat -c "%04a" /tmp/foo3 >> /dest && \\
\tstat -c "%04a" /tmp/foo4 >> /dest

FROM scratch
COPY --from=build /dest /dest
"""
    out = sandbox.export(sandbox.context(dockerfile), "--build-arg", "mode=400")
    assert (out / "dest").read_bytes() == b"0644\n0755\n0413\n0400\n"


# dockerfile_add_test.go: testAddInvalidChmod
def test_add_invalid_chmod(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nADD --chmod=64a foo /\n", file("foo", "foo-contents"))
    assert "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777" in (
        sandbox.build_fails(context)
    )
    context = sandbox.context("\nFROM scratch\nADD --chmod=10000 foo /\n", file("foo", "foo-contents"))
    assert "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777" in (
        sandbox.build_fails(context)
    )


# dockerfile_add_test.go: testAddChecksum (its subtests in turn)
def test_add_checksum(sandbox: Sandbox, http_server: RecordingServer) -> None:
    content = b"content1"
    http_server.responses["/foo"] = Response(content, etag=os.urandom(8).hex())
    url = http_server.url + "/foo"

    # Valid
    sandbox.build_ok(sandbox.context(f"\nFROM scratch\nADD --checksum={digest_of(content)} {url} /tmp/foo\n"))
    # DigestFromEnv
    dockerfile = f"""
FROM scratch
ENV DIGEST={digest_of(content)}
ENV LINK={url}
ADD --checksum=${{DIGEST}} ${{LINK}} /tmp/foo
"""
    sandbox.build_ok(sandbox.context(dockerfile))
    # DigestMismatch
    sandbox.build_fails(sandbox.context(f"\nFROM scratch\nADD --checksum={digest_of(b'')} {url} /tmp/foo\n"))
    # DigestWithKnownButUnsupportedAlgoName
    sandbox.build_fails(
        sandbox.context(
            f"\nFROM scratch\nADD --checksum=md5:7e55db001d319a94b0b713529a756623 {url} /tmp/foo\n"
        )
    )
    # DigestWithUnknownAlgoName
    encoded = digest_of(content).removeprefix("sha256:")
    sandbox.build_fails(sandbox.context(f"\nFROM scratch\nADD --checksum=unknown:{encoded} {url} /tmp/foo\n"))
    # DigestWithoutAlgoName
    sandbox.build_fails(sandbox.context(f"\nFROM scratch\nADD --checksum={encoded} {url} /tmp/foo\n"))
    # NonHTTPSource
    local = b"local file"
    context = sandbox.context(
        f"\nFROM scratch\nADD --checksum={digest_of(local)} foo /tmp/foo\n", file("foo", local)
    )
    sandbox.build_fails(context)
