"""BuildKit's frontend/dockerfile/dockerfile_workdir_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import time

import pytest

from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root


# dockerfile_workdir_test.go: testWorkdirCreatesDir
def test_workdir_creates_dir(sandbox: Sandbox) -> None:
    out = sandbox.export(sandbox.context("\nFROM scratch\nWORKDIR /foo\nWORKDIR /\n"))
    assert (out / "foo").is_dir() and not (out / "foo").is_symlink()


# dockerfile_workdir_test.go: testWorkdirSourceDateEpochReproducible
def test_workdir_source_date_epoch_reproducible(own_sandbox: Sandbox) -> None:
    context = own_sandbox.context("\nFROM alpine\nWORKDIR /mydir\n")
    epoch = "1673364896"  # 2023-01-10T15:34:56Z
    first = own_sandbox.export_oci(context, "--build-arg", f"SOURCE_DATE_EPOCH={epoch}")
    # Prune all cache
    own_sandbox.store.ok("builder", "prune", "-a", "-f")
    time.sleep(1.5)  # the rebuild happens at another second of the clock, which must not show
    second = own_sandbox.export_oci(context, "--build-arg", f"SOURCE_DATE_EPOCH={epoch}")
    assert first.blobs["index.json"] == second.blobs["index.json"]


# dockerfile_workdir_test.go: testWorkdirUser
def test_workdir_user(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
RUN adduser -D user
USER user
WORKDIR /mydir
RUN [ "$(stat -c "%U %G" /mydir)" == "user user" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile))


# dockerfile_workdir_test.go: testWorkdirCopyIgnoreRelative
def test_workdir_copy_ignore_relative(sandbox: Sandbox) -> None:
    dockerfile = """
FROM scratch AS base
WORKDIR /foo
COPY Dockerfile /
FROM scratch
# relative path still loaded as absolute
COPY --from=base Dockerfile .
"""
    sandbox.build_ok(sandbox.context(dockerfile))


# dockerfile_workdir_test.go: testWorkdirExists
def test_workdir_exists(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
RUN adduser -D user
RUN mkdir /mydir && chown user:user /mydir
WORKDIR /mydir
RUN [ "$(stat -c "%U %G" /mydir)" == "user user" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile))
