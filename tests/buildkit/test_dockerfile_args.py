"""BuildKit's frontend/dockerfile/dockerfile_args_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


# dockerfile_args_test.go: testGlobalArg
def test_global_arg(sandbox: Sandbox) -> None:
    context = sandbox.context("\nARG tag=nosuchtag\nFROM busybox:${tag}\n")
    sandbox.build_ok(context, "--build-arg", "tag=latest")


# dockerfile_args_test.go: testGlobalArgErrors
def test_global_arg_errors(sandbox: Sandbox) -> None:
    context = sandbox.context('\nARG FOO=${FOO:?"custom error"}\nFROM busybox\n')
    assert "FOO: custom error" in sandbox.build_fails(context)
    sandbox.build_ok(context, "--build-arg", "FOO=bar")


# dockerfile_args_test.go: testArgDefaultExpansion
def test_arg_default_expansion(sandbox: Sandbox) -> None:
    context = sandbox.context('\nFROM scratch\nARG FOO\nARG BAR=${FOO:?"foo missing"}\n')
    assert "FOO: foo missing" in sandbox.build_fails(context)
    sandbox.build_ok(context, "--build-arg", "FOO=123")
    sandbox.build_ok(context, "--build-arg", "BAR=123")


# dockerfile_args_test.go: testMultiArgs
def test_multi_args(sandbox: Sandbox) -> None:
    dockerfile = """
ARG a1="foo bar" a2=box
ARG a3="$a2-foo"
FROM busy$a2 AS build
ARG a3 a4="123 456" a1
RUN echo -n "$a1:$a3:$a4" > /out
FROM scratch
COPY --from=build /out .
"""
    assert (sandbox.export(sandbox.context(dockerfile)) / "out").read_text() == "foo bar:box-foo:123 456"


# dockerfile_args_test.go: testQuotedMetaArgs
def test_quoted_meta_args(sandbox: Sandbox) -> None:
    dockerfile = """
ARG a1="box"
ARG a2="$a1-foo"
FROM busy$a1 AS build
ARG a2
ARG a3="bar-$a2"
RUN echo -n $a3 > /out
FROM scratch
COPY --from=build /out .
"""
    assert (sandbox.export(sandbox.context(dockerfile)) / "out").read_text() == "bar-box-foo"


TARGET_STAGE_DOCKERFILE = """
FROM alpine AS base
WORKDIR /out
RUN echo -n "value:$TARGETSTAGE" > /out/first
ARG TARGETSTAGE
RUN echo -n "value:$TARGETSTAGE" > /out/second

FROM scratch AS foo
COPY --from=base /out/ /

FROM scratch
COPY --from=base /out/ /
"""


# dockerfile_args_test.go: testTargetStageNameArg
def test_target_stage_name_arg(sandbox: Sandbox) -> None:
    context = sandbox.context(TARGET_STAGE_DOCKERFILE)
    out = sandbox.export(context, "--target", "foo")
    assert (out / "first").read_text() == "value:"
    assert (out / "second").read_text() == "value:foo"

    out = sandbox.export(context)
    assert (out / "first").read_text() == "value:"
    assert (out / "second").read_text() == "value:default"

    # stage name defined in Dockerfile but not passed in request
    context = sandbox.context(
        TARGET_STAGE_DOCKERFILE + "\n\n\tFROM scratch AS final\n\tCOPY --from=base /out/ /\n\t"
    )
    out = sandbox.export(context)
    assert (out / "first").read_text() == "value:"
    assert (out / "second").read_text() == "value:final"


# dockerfile_args_test.go: testBuiltinArgs
def test_builtin_args(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
ARG FOO
ARG BAR
ARG BAZ=bazcontent
RUN echo -n $HTTP_PROXY::$NO_PROXY::$FOO::$BAR::$BAZ > /out
FROM scratch
COPY --from=build /out /

"""
    context = own_sandbox.context(dockerfile)
    out = own_sandbox.export(
        context,
        "--build-arg",
        "FOO=foocontents",
        "--build-arg",
        "http_proxy=hpvalue",
        "--build-arg",
        "NO_PROXY=npvalue",
    )
    assert (out / "out").read_text() == "hpvalue::npvalue::foocontents::::bazcontent"

    # repeat with changed default args should match the old cache
    out = own_sandbox.export(context, "--build-arg", "FOO=foocontents", "--build-arg", "http_proxy=hpvalue2")
    assert (out / "out").read_text() == "hpvalue::npvalue::foocontents::::bazcontent"

    # changing actual value invalidates cache
    out = own_sandbox.export(context, "--build-arg", "FOO=foocontents2", "--build-arg", "http_proxy=hpvalue2")
    assert (out / "out").read_text() == "hpvalue2::::foocontents2::::bazcontent"


# dockerfile_args_test.go: testDefaultEnvWithArgs
def test_default_env_with_args(sandbox: Sandbox) -> None:
    dockerfile = """
ARG image=idlebox
FROM busy${image#idle} AS build
ARG my_arg
ENV my_arg "my_arg=${my_arg:-def_val}"
ENV my_trimmed_arg "${my_arg%%e*}"
COPY myscript.sh myscript.sh
RUN ./myscript.sh $my_arg $my_trimmed_arg
FROM scratch
COPY --from=build /out /out
"""
    script = "\n#!/usr/bin/env sh\necho -n $my_arg $* > /out\n"
    context = sandbox.context(dockerfile, file("myscript.sh", script, 0o700))
    for args, expected in (
        ((), "my_arg=def_val my_arg=def_val my_arg=d"),
        (("--build-arg", "my_arg="), "my_arg=def_val my_arg=def_val my_arg=d"),
        (("--build-arg", "my_arg=override"), "my_arg=override my_arg=override my_arg=ov"),
    ):
        assert (sandbox.export(context, *args) / "out").read_text() == expected, args


# dockerfile_args_test.go: testEmptyStringArgInEnv
def test_empty_string_arg_in_env(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
ARG FOO
ARG BAR=
RUN env > env.txt

FROM scratch
COPY --from=build env.txt .
"""
    environment = (sandbox.export(sandbox.context(dockerfile)) / "env.txt").read_text()
    assert "BAR=" in environment
    assert "FOO=" not in environment


# dockerfile_args_test.go: testEnvEmptyFormatting
def test_env_empty_formatting(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
ENV myenv foo%sbar
RUN [ "$myenv" = 'foo%sbar' ]
"""
    sandbox.export(sandbox.context(dockerfile))
