"""BuildKit's frontend/dockerfile/dockerfile_mount_test.go, ported to slipway (see README.md).

Cache mounts are shared by every build of a store (BuildKit's daemon shares them too), so the tests that
use them get a store of their own.
"""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


# dockerfile_mount_test.go: testMountContext
def test_mount_context(sandbox: Sandbox) -> None:
    dockerfile = '\nFROM busybox\nRUN --mount=target=/context [ "$(cat /context/testfile)" == "contents0" ]\n'
    sandbox.build_ok(sandbox.context(dockerfile, file("testfile", "contents0")))


# dockerfile_mount_test.go: testMountTmpfs
def test_mount_tmpfs(sandbox: Sandbox) -> None:
    dockerfile = (
        "\nFROM busybox\nRUN --mount=target=/mytmp,type=tmpfs touch /mytmp/foo\nRUN [ ! -f /mytmp/foo ]\n"
    )
    sandbox.build_ok(sandbox.context(dockerfile))


# dockerfile_mount_test.go: testMountInvalid
def test_mount_invalid(sandbox: Sandbox) -> None:
    output = sandbox.build_fails(
        sandbox.context("\nFROM scratch\nRUN --mont=target=/mytmp,type=tmpfs /bin/true\n")
    )
    assert "unknown flag: --mont" in output
    assert "did you mean mount?" in output

    output = sandbox.build_fails(sandbox.context("\n\tFROM scratch\n\tRUN --mount=typ=tmpfs /bin/true\n\t"))
    assert "unexpected key 'typ'" in output
    assert "did you mean type?" in output

    output = sandbox.build_fails(sandbox.context("\n\tFROM scratch\n\tRUN --mount=type=tmp /bin/true\n\t"))
    assert 'unsupported mount type "tmp"' in output
    assert "did you mean tmpfs?" in output


# dockerfile_mount_test.go: testMountRWCache
def test_mount_rw_cache(own_sandbox: Sandbox) -> None:
    dockerfile = """
from busybox AS build
copy cachebust /
run mkdir out && echo foo > out/foo
from busybox as second
RUN --mount=from=build,src=out,target=/out,rw touch /out/bar && cat /dev/urandom | head -c 100 | sha256sum > /unique
from scratch
COPY --from=second /unique /unique
"""
    first = (
        own_sandbox.export(own_sandbox.context(dockerfile, file("cachebust", "0"))) / "unique"
    ).read_bytes()
    # repeat with changed file that should be still cached by content
    second = (
        own_sandbox.export(own_sandbox.context(dockerfile, file("cachebust", "1"))) / "unique"
    ).read_bytes()
    assert first == second


# dockerfile_mount_test.go: testCacheMountUser
def test_cache_mount_user(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
RUN --mount=type=cache,target=/mycache,uid=1001,gid=1002,mode=0751 [ "$(stat -c "%u %g %f" /mycache)" == "1001 1002 41e9" ]
"""
    own_sandbox.build_ok(own_sandbox.context(dockerfile))


# dockerfile_mount_test.go: testCacheMountDefaultID
def test_cache_mount_default_id(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
RUN --mount=type=cache,target=/mycache touch /mycache/foo
RUN --mount=type=cache,target=/mycache2 [ ! -f /mycache2/foo ]
RUN --mount=type=cache,target=/mycache [ -f /mycache/foo ]
"""
    own_sandbox.build_ok(own_sandbox.context(dockerfile))


# dockerfile_mount_test.go: testMountEnvVar
def test_mount_env_var(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
ENV SOME_PATH=/mycache
RUN --mount=type=cache,target=/mycache touch /mycache/foo
RUN --mount=type=cache,target=$SOME_PATH [ -f $SOME_PATH/foo ]
"""
    own_sandbox.build_ok(own_sandbox.context(dockerfile))


# dockerfile_mount_test.go: testMountArg
def test_mount_arg(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
ARG MNT_TYPE=cache
RUN --mount=type=$MNT_TYPE,target=/mycache2 touch /mycache2/foo
RUN --mount=type=cache,target=/mycache2 [ -f /mycache2/foo ]
"""
    own_sandbox.build_ok(own_sandbox.context(dockerfile))


# dockerfile_mount_test.go: testMountEnvAcrossStages
def test_mount_env_across_stages(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox as stage1
ENV MNT_ID=mycache
ENV MNT_TYPE2=cache
RUN --mount=type=cache,id=mycache,target=/abcabc touch /abcabc/foo
RUN --mount=type=$MNT_TYPE2,id=$MNT_ID,target=/cbacba [ -f /cbacba/foo ]
FROM stage1
RUN --mount=type=$MNT_TYPE2,id=$MNT_ID,target=/whatever [ -f /whatever/foo ]
"""
    own_sandbox.build_ok(own_sandbox.context(dockerfile))


# dockerfile_mount_test.go: testMountMetaArg
def test_mount_meta_arg(own_sandbox: Sandbox) -> None:
    dockerfile = """
ARG META_PATH=/tmp/meta
FROM busybox
ARG META_PATH
RUN --mount=type=cache,id=mycache,target=/tmp/meta touch /tmp/meta/foo
RUN --mount=type=cache,id=mycache,target=$META_PATH [ -f /tmp/meta/foo ]
"""
    own_sandbox.build_ok(own_sandbox.context(dockerfile))


# dockerfile_mount_test.go: testMountFromError
def test_mount_from_error(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox as test
RUN touch /tmp/test
FROM busybox
ENV ttt=test
RUN --mount=from=$ttt,type=cache,target=/tmp ls
"""
    output = sandbox.build_fails(sandbox.context(dockerfile))
    assert "'from' doesn't support variable expansion, define alias stage instead" in output


# dockerfile_mount_test.go: testMountTmpfsSize
def test_mount_tmpfs_size(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS base
RUN --mount=type=tmpfs,target=/dev/shm,size=128m mount | grep /dev/shm > /tmpfssize
FROM scratch
COPY --from=base /tmpfssize /
"""
    assert "size=131072k" in (sandbox.export(sandbox.context(dockerfile)) / "tmpfssize").read_text()


# dockerfile_mount_test.go: testMountDuplicate (moby/buildkit#4123)
def test_mount_duplicate(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS base
RUN --mount=source=.,target=/tmp/test \\
  --mount=source=b.txt,target=/tmp/b.txt \\
  cat /tmp/test/a.txt /tmp/b.txt > /combined.txt
FROM scratch
COPY --from=base /combined.txt /
"""
    # Run this dockerfile a few times. It should update the context
    # for a.txt properly and update the output.
    for text in ("foo\n", "updated\n"):
        context = sandbox.context(dockerfile, file("a.txt", text), file("b.txt", "bar\n"))
        assert (sandbox.export(context) / "combined.txt").read_text() == f"{text}bar\n"


CACHE_MOUNT_PARALLEL = """
FROM alpine AS b1
RUN --mount=type=cache,target=/foo/bar --mount=type=cache,target=/foo/bar/baz echo 1
FROM alpine AS b2
RUN --mount=type=cache,target=/foo/bar --mount=type=cache,target=/foo/bar/baz echo 2
FROM scratch
COPY --from=b1 /etc/passwd p1
COPY --from=b2 /etc/passwd p2
"""


# dockerfile_mount_test.go: testCacheMountParallel (moby/buildkit#5566): its 20 rounds are marked slow,
# two run by default
@pytest.mark.parametrize("rounds", [2, pytest.param(20, marks=pytest.mark.slow)])
def test_cache_mount_parallel(own_sandbox: Sandbox, rounds: int) -> None:
    context = own_sandbox.context(CACHE_MOUNT_PARALLEL)
    for _ in range(rounds):
        own_sandbox.build_ok(context, "--no-cache")


# dockerfile_mount_test.go: testCacheMountSourceEscape
def test_cache_mount_source_escape(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS init
RUN --mount=type=cache,id=sourceescape,target=/cache mkdir -p /cache/sel && echo benign > /cache/sel/benign.txt
FROM init AS link
RUN --mount=type=cache,id=sourceescape,target=/cache rm -rf /cache/sel && ln -s /etc /cache/sel
FROM link AS victim
RUN --mount=type=cache,id=sourceescape,source=sel,target=/victim cat /victim/hostname
FROM scratch
COPY --from=victim /etc/hostname /hostname
"""
    # the build must fail when a cache source= resolves through a link outside the cache root
    own_sandbox.build_fails(own_sandbox.context(dockerfile), "--no-cache")
