"""BuildKit's frontend/dockerfile/dockerfile_dockerignore_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


# dockerfile_dockerignore_test.go: testDockerignore
def test_dockerignore(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch\nCOPY . .\n",
        file("foo", "foo-contents"),
        file("bar", "bar-contents"),
        file("baz", "baz-contents"),
        file("bay", "bay-contents"),
        file(".dockerignore", "\nba*\nDockerfile\n!bay\n.dockerignore\n"),
    )
    out = sandbox.export(context)
    assert (out / "foo").read_text() == "foo-contents"
    for ignored in (".dockerignore", "Dockerfile", "bar", "baz"):
        assert not (out / ignored).exists(), ignored
    assert (out / "bay").read_text() == "bay-contents"


# dockerfile_dockerignore_test.go: testDockerignoreInvalid (it must fail, not hang: a timeout fails the test)
def test_dockerignore_invalid(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nCOPY . .\n", file(".dockerignore", "!\n"))
    result = sandbox.build(context)
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr


# dockerfile_dockerignore_test.go: testDockerignoreOverride
def test_dockerignore_override(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM busybox\nCOPY . .\nRUN [ -f foo ] && [ ! -f bar ]\n",
        file("Dockerfile.dockerignore", "\nbar\n"),
        file("Dockerfile2", "\nFROM busybox\nCOPY . .\nRUN [ ! -f foo ] && [ -f bar ]\n"),
        file("Dockerfile2.dockerignore", "\nfoo\n"),
        file("foo", "contents0"),
        file("bar", "contents0"),
    )
    sandbox.build_ok(context)
    sandbox.build_ok(context, dockerfile=context / "Dockerfile2")
