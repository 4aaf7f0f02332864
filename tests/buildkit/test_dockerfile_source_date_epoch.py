"""BuildKit's frontend/dockerfile/dockerfile_source_date_epoch_test.go, ported to slipway (see README.md).

BuildKit's OCI exporter attributes are `-o type=oci,...` attributes here. Where BuildKit checks the
`buildkit/rewritten-timestamp` annotation its `rewrite-timestamp=true` puts on a layer, the port checks
what that annotation stands for: the layer's files carry that time (a file newer than the epoch is
clamped to it), and without a rewrite they do not.
"""

from __future__ import annotations

import subprocess
import tarfile
from datetime import UTC, datetime

import pytest

from buildkit._http import RecordingServer, Response, serving_directory
from buildkit._sandbox import OciArchive, Sandbox, tar_bytes

pytestmark = pytest.mark.root


def created(archive: OciArchive) -> int:
    return int(datetime.fromisoformat(archive.config()["created"].replace("Z", "+00:00")).timestamp())


def last_layer(archive: OciArchive) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    return archive.layers()[-1]


def assert_rewritten(archive: OciArchive, epoch: int | None, name: str = "Dockerfile") -> None:
    """The last layer's `name` carries `epoch` as its mtime (None: the layer was not rewritten)."""
    info, _data = last_layer(archive)[name]
    if epoch is None:
        assert info.mtime > 1_700_000_000, info.mtime  # the context file's own (current) time
    else:
        assert int(info.mtime) == epoch


# BuildKit's tests give SOURCE_DATE_EPOCH as an ARG default in this Dockerfile; 2015-10-21T07:28:00Z.
WITH_DEFAULT = "\nARG SOURCE_DATE_EPOCH={}\nFROM scratch\nCOPY Dockerfile .\n"
OCTOBER_2015 = int(datetime(2015, 10, 21, 7, 28, tzinfo=UTC).timestamp())


def tar_context(*files: tuple[str, str, int]) -> bytes:
    """makeTarContext: (name, data, mtime) files, mode 0600."""
    return tar_bytes(*((name, data, {"mode": 0o600, "mtime": mtime}) for name, data, mtime in files))


# dockerfile_source_date_epoch_test.go: testSourceDateEpochWithoutExporter
def test_source_date_epoch_without_exporter(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nENTRYPOINT foo bar\nCOPY Dockerfile .\n")
    epoch = 1700000001
    archive = sandbox.export_oci(context, "--build-arg", f"SOURCE_DATE_EPOCH={epoch}")
    assert created(archive) == epoch
    for entry in archive.config()["history"]:
        assert int(datetime.fromisoformat(entry["created"].replace("Z", "+00:00")).timestamp()) == epoch


def export_rewritten(sandbox: Sandbox, context: object, *args: str, attributes: str = "") -> OciArchive:
    destination = sandbox.fresh("oci") / "out.tar"
    sandbox.build_ok(
        context, *args, "--output", f"type=oci,dest={destination},rewrite-timestamp=true{attributes}"
    )
    return OciArchive.read(destination)


# dockerfile_source_date_epoch_test.go: testSourceDateEpochDockerfileDefault
def test_source_date_epoch_dockerfile_default(sandbox: Sandbox) -> None:
    archive = export_rewritten(sandbox, sandbox.context(WITH_DEFAULT.format(OCTOBER_2015)))
    assert len(archive.manifest()["layers"]) == 1
    assert_rewritten(archive, OCTOBER_2015)


# dockerfile_source_date_epoch_test.go: testSourceDateEpochDockerfileDefaultOverride
def test_source_date_epoch_dockerfile_default_override(sandbox: Sandbox) -> None:
    context = sandbox.context(WITH_DEFAULT.format(1700000001))
    archive = export_rewritten(sandbox, context, "--build-arg", "SOURCE_DATE_EPOCH=1700000002")
    assert len(archive.manifest()["layers"]) == 1
    assert_rewritten(archive, 1700000002)


# dockerfile_source_date_epoch_test.go: testSourceDateEpochDockerfileDefaultReset
def test_source_date_epoch_dockerfile_default_reset(sandbox: Sandbox) -> None:
    context = sandbox.context(WITH_DEFAULT.format(OCTOBER_2015))
    archive = export_rewritten(sandbox, context, attributes=",source-date-epoch=")
    assert len(archive.manifest()["layers"]) == 1
    assert_rewritten(archive, None)


# dockerfile_source_date_epoch_test.go: testSourceDateEpochDockerfileDefaultInvalid
def test_source_date_epoch_dockerfile_default_invalid(sandbox: Sandbox) -> None:
    context = sandbox.context(WITH_DEFAULT.format("not-a-timestamp"))
    destination = sandbox.fresh("oci") / "out.tar"
    output = sandbox.build_fails(context, "--output", f"type=oci,dest={destination}")
    assert "invalid SOURCE_DATE_EPOCH: not-a-timestamp" in output


# dockerfile_source_date_epoch_test.go: testSourceDateEpochContextGit
def test_source_date_epoch_context_git(sandbox: Sandbox) -> None:
    repository = sandbox.context("FROM scratch\nCOPY Dockerfile /\n")
    commit_time = "2023-11-14T22:28:21Z"
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "--local", "user.email", "test@example.com"],
        ["git", "config", "--local", "user.name", "test"],
        ["git", "add", "Dockerfile"],
        ["git", "commit", "-q", "-m", "msg"],
        ["git", "update-server-info"],
    ):
        subprocess.run(
            command,
            cwd=repository,
            check=True,
            capture_output=True,
            env={"GIT_AUTHOR_DATE": commit_time, "GIT_COMMITTER_DATE": commit_time, "PATH": "/usr/bin:/bin"},
        )
    with serving_directory(repository) as url:
        destination = sandbox.fresh("oci") / "out.tar"
        sandbox.build_ok(
            url + "/.git",
            "--build-arg",
            "SOURCE_DATE_EPOCH=context",
            "--output",
            f"type=oci,dest={destination}",
        )
    # The commit's date (committer and author: the one time above), in seconds.
    assert created(OciArchive.read(destination)) == int(datetime.fromisoformat(commit_time).timestamp())


# dockerfile_source_date_epoch_test.go: testSourceDateEpochContextHTTPLastModified
def test_source_date_epoch_context_http_last_modified(sandbox: Sandbox, http_server: RecordingServer) -> None:
    last_modified = 1700000201
    http_server.responses["/context.tar"] = Response(
        tar_context(
            ("Dockerfile", "FROM scratch\nCOPY foo /\n", 1700000202 - 3600), ("foo", "bar", 1700000202)
        ),
        etag="context",
        last_modified=datetime.fromtimestamp(last_modified, UTC),
    )
    destination = sandbox.fresh("oci") / "out.tar"
    sandbox.build_ok(
        http_server.url + "/context.tar",
        "--build-arg",
        "SOURCE_DATE_EPOCH=context",
        "--output",
        f"type=oci,dest={destination}",
    )
    assert created(OciArchive.read(destination)) == last_modified


EPOCH_DOCKERFILE = 'FROM busybox\nARG SOURCE_DATE_EPOCH\nRUN echo -n "$SOURCE_DATE_EPOCH" >/epoch\n'


# dockerfile_source_date_epoch_test.go: testSourceDateEpochContextHTTPArchive
def test_source_date_epoch_context_http_archive(sandbox: Sandbox, http_server: RecordingServer) -> None:
    newest = 1700000302
    http_server.responses["/context.tar"] = Response(
        tar_context(("Dockerfile", EPOCH_DOCKERFILE, newest - 3600), ("foo", "bar", newest)), etag="context"
    )
    archive = export_rewritten(
        sandbox, http_server.url + "/context.tar", "--build-arg", "SOURCE_DATE_EPOCH=context"
    )
    assert last_layer(archive)["epoch"][1] == str(newest).encode()
    assert_rewritten(archive, newest, "epoch")
    assert created(archive) == newest


# dockerfile_source_date_epoch_test.go: testSourceDateEpochContextLocalUnset
def test_source_date_epoch_context_local_unset(sandbox: Sandbox) -> None:
    context = sandbox.context("FROM scratch\nCOPY Dockerfile /\n")
    archive = export_rewritten(sandbox, context, "--build-arg", "SOURCE_DATE_EPOCH=context")
    assert len(archive.manifest()["layers"]) == 1
    assert_rewritten(archive, None)


# dockerfile_source_date_epoch_test.go: testSourceDateEpochStageHTTPArchive
def test_source_date_epoch_stage_http_archive(sandbox: Sandbox, http_server: RecordingServer) -> None:
    newest = 1700000402
    http_server.responses["/src.tar"] = Response(tar_context(("foo", "bar", newest)), etag="src")
    dockerfile = f"""
ARG SOURCE_DATE_EPOCH=mysource
FROM scratch AS mysource
ADD {http_server.url}/src.tar /
FROM busybox
ARG SOURCE_DATE_EPOCH
RUN echo -n "$SOURCE_DATE_EPOCH" >/epoch
"""
    archive = export_rewritten(sandbox, sandbox.context(dockerfile))
    assert last_layer(archive)["epoch"][1] == str(newest).encode()
    assert_rewritten(archive, newest, "epoch")
    assert created(archive) == newest


# dockerfile_source_date_epoch_test.go: testSourceDateEpochStageOverride
def test_source_date_epoch_stage_override(sandbox: Sandbox, http_server: RecordingServer) -> None:
    http_server.responses["/src.tar"] = Response(tar_context(("foo", "bar", 1700000501)), etag="src")
    dockerfile = f"""
ARG SOURCE_DATE_EPOCH=mysource
FROM scratch AS mysource
ADD {http_server.url}/src.tar /
FROM scratch
COPY Dockerfile .
"""
    archive = export_rewritten(
        sandbox, sandbox.context(dockerfile), "--build-arg", "SOURCE_DATE_EPOCH=1700000502"
    )
    assert len(archive.manifest()["layers"]) == 1
    assert_rewritten(archive, 1700000502)


# dockerfile_source_date_epoch_test.go: testSourceDateEpochStageInvalid
def test_source_date_epoch_stage_invalid(sandbox: Sandbox) -> None:
    dockerfile = """
ARG SOURCE_DATE_EPOCH=mysource
FROM scratch AS mysource
COPY Dockerfile /Dockerfile
FROM scratch
"""
    destination = sandbox.fresh("oci") / "out.tar"
    output = sandbox.build_fails(sandbox.context(dockerfile), "--output", f"type=oci,dest={destination}")
    assert "SOURCE_DATE_EPOCH stage does not meet source-only requirements" in output


# dockerfile_source_date_epoch_test.go: testSourceDateEpochNamedContextHTTPLastModified
def test_source_date_epoch_named_context_http_last_modified(
    sandbox: Sandbox, http_server: RecordingServer
) -> None:
    last_modified = 1700000601
    http_server.responses["/src.tar"] = Response(
        tar_context(("foo", "bar", last_modified + 3600)),
        etag="src",
        last_modified=datetime.fromtimestamp(last_modified, UTC),
    )
    context = sandbox.context("\nARG SOURCE_DATE_EPOCH=mysource\nFROM scratch\nCOPY Dockerfile .\n")
    archive = export_rewritten(sandbox, context, "--build-context", f"mysource={http_server.url}/src.tar")
    assert len(archive.manifest()["layers"]) == 1
    assert_rewritten(archive, last_modified)
    assert created(archive) == last_modified


# dockerfile_source_date_epoch_test.go: testSourceDateEpochNamedContextHTTPArchive
def test_source_date_epoch_named_context_http_archive(sandbox: Sandbox, http_server: RecordingServer) -> None:
    newest = 1700000602
    http_server.responses["/src.tar"] = Response(tar_context(("foo", "bar", newest)), etag="src")
    context = sandbox.context("\nARG SOURCE_DATE_EPOCH=mysource\n" + EPOCH_DOCKERFILE)
    archive = export_rewritten(sandbox, context, "--build-context", f"mysource={http_server.url}/src.tar")
    assert last_layer(archive)["epoch"][1] == str(newest).encode()
    assert_rewritten(archive, newest, "epoch")
    assert created(archive) == newest
