"""BuildKit's frontend/dockerfile/dockerfile_multistage_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


# dockerfile_multistage_test.go: testMultiStageImplicitFrom
def test_multi_stage_implicit_from(sandbox: Sandbox) -> None:
    out = sandbox.export(sandbox.context("\nFROM scratch\nCOPY --from=busybox /etc/passwd test\n"))
    assert "root" in (out / "test").read_text()

    # testing masked image will load actual stage
    dockerfile = """
FROM busybox AS golang
RUN mkdir -p /usr/bin && echo -n foo > /usr/bin/go
FROM scratch
COPY --from=golang /usr/bin/go go
"""
    assert "foo" in (sandbox.export(sandbox.context(dockerfile)) / "go").read_text()


# dockerfile_multistage_test.go: testMultiStageCaseInsensitive
def test_multi_stage_case_insensitive(sandbox: Sandbox) -> None:
    dockerfile = """
FROM scratch AS STAge0
COPY foo bar
FROM scratch AS staGE1
COPY --from=staGE0 bar baz
FROM scratch
COPY --from=stage1 baz bax
"""
    out = sandbox.export(sandbox.context(dockerfile, file("foo", "foo-contents")), "--target", "Stage1")
    assert "foo-contents" in (out / "baz").read_text()


# dockerfile_multistage_test.go: testOutOfOrderStage
def test_out_of_order_stage(sandbox: Sandbox) -> None:
    for source in ("/", "/d2"):
        dockerfile = f"""
FROM busybox AS target
COPY --from=build {source} /out
FROM alpine AS build
COPY /Dockerfile /d2
FROM target
"""
        output = sandbox.build_fails(sandbox.context(dockerfile))
        assert "cannot copy from stage" in output
        assert "needs to be defined before current stage" in output


# dockerfile_multistage_test.go: testEmptyStages
def test_empty_stages(sandbox: Sandbox) -> None:
    assert "dockerfile contains no stages to build" in sandbox.build_fails(sandbox.context("ARG foo=bar"))
