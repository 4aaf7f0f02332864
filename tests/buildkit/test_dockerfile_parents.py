"""BuildKit's frontend/dockerfile/dockerfile_parents_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import re

import pytest

from buildkit._sandbox import Sandbox, directory, file

pytestmark = pytest.mark.root


# dockerfile_parents_test.go: testCopyParents
def test_copy_parents(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch\nCOPY --parents foo1/foo2/bar /\nWORKDIR /test\nCOPY --parents foo1/foo2/ba* .\n",
        directory("foo1/foo2", 0o700),
        file("foo1/foo2/bar", "testing"),
        file("foo1/foo2/baz", "testing2"),
    )
    out = sandbox.export(context)
    assert (out / "foo1/foo2/bar").read_text() == "testing"
    assert (out / "test/foo1/foo2/bar").read_text() == "testing"
    assert (out / "test/foo1/foo2/baz").read_text() == "testing2"


RELATIVE_PARENTS = """
FROM alpine AS base
WORKDIR /test
RUN <<eot
\tset -ex
\tmkdir -p a/b/c/d/e
\tmkdir -p a/b2/c/d/e
\tmkdir -p a/b/c2/d/e
\tmkdir -p a/b/c2/d/e2
\ttouch a/b/c/d/foo
\ttouch a/b/c/d/e/bay
\ttouch a/b2/c/d/e/bar
\ttouch a/b/c2/d/e/baz
\ttouch a/b/c2/d/e2/baz
eot
FROM alpine AS middle
COPY --from=base --parents /test/a/b/./c/d /out/
RUN <<eot
\tset -ex
\t[ -d /out/c/d/e ]
\t[ -f /out/c/d/foo ]
\t[ ! -d /out/a ]
\t[ ! -d /out/e ]
eot
FROM alpine AS end
COPY --from=base --parents /test/a/b/c/d/. /out/
RUN <<eot
\tset -ex
\t[ -d /out/test/a/b/c/d/e ]
\t[ -f /out/test/a/b/c/d/foo ]
eot
FROM alpine AS start
COPY --from=base --parents ./test/a/b/c/d /out/
RUN <<eot
\tset -ex
\t[ -d /out/test/a/b/c/d/e ]
\t[ -f /out/test/a/b/c/d/foo ]
eot
FROM alpine AS double
COPY --from=base --parents /test/a/./b/./c /out/
RUN <<eot
\tset -ex
\t[ -d /out/b/c/d/e ]
\t[ -f /out/b/c/d/foo ]
eot
FROM alpine AS wildcard
COPY --from=base --parents /test/a/./*/c /out/
RUN <<eot
\tset -ex
\t[ -d /out/b/c/d/e ]
\t[ -f /out/b2/c/d/e/bar ]
eot
FROM alpine AS doublewildcard
COPY --from=base --parents /test/a/b*/./c/**/e /out/
RUN <<eot
\tset -ex
\t[ -d /out/c/d/e ]
\t[ -f /out/c/d/e/bay ] # via b
\t[ -f /out/c/d/e/bar ] # via b2
eot
FROM alpine AS doubleinputs
COPY --from=base --parents /test/a/b/c*/./d/**/baz /test/a/b*/./c/**/bar /out/
RUN <<eot
\tset -ex
\t[ -f /out/d/e/baz ]
\t[ ! -f /out/d/e/bay ]
\t[ -f /out/d/e2/baz ]
\t[ -f /out/c/d/e/bar ] # via b2
eot
"""


# dockerfile_parents_test.go: testCopyRelativeParents
def test_copy_relative_parents(sandbox: Sandbox) -> None:
    context = sandbox.context(RELATIVE_PARENTS)
    for target in ("middle", "end", "start", "double", "wildcard", "doublewildcard", "doubleinputs"):
        sandbox.build_ok(context, "--target", target)


MISSING_DIRECTORY = """
FROM alpine AS base
WORKDIR /test
RUN <<eot
\tset -ex
\tmkdir -p a/b/c/d/e
\ttouch a/b/c/d/foo
\ttouch a/b/c/d/e/bay
eot
FROM alpine AS normal
COPY --from=base --parents /test/a/b/c/d /out/
RUN <<eot
\tset -ex
\t[ -d /out/test/a/b/c/d/e ]
\t[ -f /out/test/a/b/c/d/e/bay ]
\t[ ! -d /out/e ]
\t[ ! -d /out/a ]
eot
FROM alpine AS withpivot
COPY --from=base --parents /test/a/b/./c/d /out/
RUN <<eot
\tset -ex
\t[ -d /out/c/d/e ]
\t[ -f /out/c/d/foo ]
\t[ ! -d /out/a ]
\t[ ! -d /out/e ]
eot
FROM alpine AS nonexistentfile
COPY --from=base --parents /test/nonexistent-file /out/
FROM alpine AS wildcard-nonexistent
COPY --from=base --parents /test/a/b2*/c /out/
RUN <<eot
\tset -ex
\t[ -d /out ]
\t[ ! -d /out/a ]
eot
FROM alpine AS wildcard-afterpivot
COPY --from=base --parents /test/a/b/./c2* /out/
RUN <<eot
\tset -ex
\t[ -d /out ]
\t[ ! -d /out/a ]
\t[ ! -d /out/c* ]
eot
"""


# dockerfile_parents_test.go: testCopyParentsMissingDirectory
def test_copy_parents_missing_directory(sandbox: Sandbox) -> None:
    context = sandbox.context(MISSING_DIRECTORY)
    for target, error in (
        ("normal", None),
        ("withpivot", None),
        ("nonexistentfile", r'failed to calculate checksum of ref.*: "/test/nonexistent-file": not found'),
        ("wildcard-nonexistent", None),
        ("wildcard-afterpivot", None),
    ):
        if error is None:
            sandbox.build_ok(context, "--target", target)
        else:
            assert re.search(error, sandbox.build_fails(context, "--target", target)), target
