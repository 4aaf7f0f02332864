"""Stages (split at FROM, names, references, --target) and the ARG scope rules."""

from __future__ import annotations

import pytest

from slipway.errors import DockerfileError, ExpansionError, SourceLocation, StageNotFound
from slipway.frontend.instructions import ArgDeclaration
from slipway.frontend.parser import parse
from slipway.frontend.shell import ShellLexer
from slipway.frontend.stages import (
    Platform,
    StagedDockerfile,
    declare_arg,
    find_base_stage,
    find_stage,
    global_args,
    parse_platform,
    platform_args,
    proxy_env,
    select_target,
    split_stages,
)

HERE = SourceLocation("Dockerfile", 9, 9)

THREE_STAGES = """\
ARG GO=1.24
FROM golang:$GO AS Build
RUN make
FROM alpine AS test
RUN make test
FROM scratch
COPY --from=build /out /out
"""


def staged(text: str) -> StagedDockerfile:
    return split_stages(parse(text, path="Dockerfile"))


def test_split_at_from_with_global_args_before_it() -> None:
    result = staged(THREE_STAGES)
    assert [arg.args for arg in result.global_args] == [(ArgDeclaration("GO", "1.24"),)]
    assert [(stage.index, stage.name, stage.display_name) for stage in result.stages] == [
        (0, "build", "build"),
        (1, "test", "test"),
        (2, None, "stage-2"),
    ]
    assert [len(stage.commands) for stage in result.stages] == [1, 1, 1]
    assert result.stages[1].location.line == 4


def test_only_arg_may_come_before_the_first_from() -> None:
    with pytest.raises(DockerfileError) as caught:
        staged("ARG A=1\nRUN echo\nFROM alpine\n")
    assert "Dockerfile:2" in str(caught.value) and "only ARG may come before FROM" in str(caught.value)


def test_a_dockerfile_without_from_has_nothing_to_build() -> None:
    with pytest.raises(DockerfileError, match="dockerfile contains no stages to build"):
        staged("ARG A=1\n")


def test_a_stage_name_used_twice_means_the_last_stage_of_that_name() -> None:
    # BuildKit's rule (its build check DuplicateStageName warns; checks.py): names are case-insensitive.
    dockerfile = staged("FROM a AS build\nFROM b AS BUILD\nFROM build AS user\nFROM c AS build\n")
    first, second, user, last = dockerfile.stages
    assert select_target(dockerfile, "build") is last
    assert find_stage(dockerfile, "build", 4, HERE, "COPY --from=build") is last
    assert find_base_stage(dockerfile, "build", user.index, HERE) is second


def test_find_stage_by_name_case_insensitively_or_by_index() -> None:
    dockerfile = staged(THREE_STAGES)
    stages = dockerfile.stages
    assert find_stage(dockerfile, "BUILD", 2, HERE, "COPY --from=BUILD") is stages[0]
    assert find_stage(dockerfile, "1", 2, HERE, "COPY --from=1") is stages[1]
    assert find_stage(dockerfile, "alpine:3.20", 2, HERE, "COPY --from=alpine:3.20") is None  # an image


def test_a_reference_to_a_later_stage_or_to_itself_is_an_error_naming_it() -> None:
    dockerfile = staged(THREE_STAGES)
    with pytest.raises(StageNotFound) as later:
        find_stage(dockerfile, "test", 0, HERE, "COPY --from=test")
    assert "COPY --from=test: stage 'test' is defined later (line 4)" in str(later.value)
    assert later.value.location == HERE
    with pytest.raises(StageNotFound, match="refers to itself"):
        find_stage(dockerfile, "2", 2, HERE, "COPY --from=2")
    with pytest.raises(StageNotFound) as missing:
        find_stage(dockerfile, "7", 2, HERE, "COPY --from=7")
    assert "there is no stage 7; stages are 0 (build), 1 (test), 2" in str(missing.value)


def test_from_names_only_earlier_stages_and_a_stage_may_reuse_an_image_name() -> None:
    dockerfile = staged("FROM node AS node\nFROM node AS app\nFROM app\n")
    assert find_base_stage(dockerfile, "node", 0, HERE) is None  # its own name: the image
    assert find_base_stage(dockerfile, "node", 1, HERE) is dockerfile.stages[0]
    assert find_base_stage(dockerfile, "0", 2, HERE) is None  # FROM takes names, not indexes
    with pytest.raises(StageNotFound, match="defined later"):
        find_base_stage(dockerfile, "app", 0, HERE)


def test_target_selection() -> None:
    result = staged(THREE_STAGES)
    assert select_target(result, None) is result.stages[-1]
    assert select_target(result, "Test") is result.stages[1]
    with pytest.raises(StageNotFound) as caught:
        select_target(result, "release")
    assert str(caught.value) == 'target stage "release" could not be found; the stages are build, test'
    with pytest.raises(StageNotFound) as caught:
        select_target(result, "bulid")
    assert str(caught.value) == 'target stage "bulid" could not be found (did you mean build?)'
    with pytest.raises(StageNotFound, match="names no stage"):
        select_target(staged("FROM a\n"), "x")


def test_platforms_parse_and_normalize() -> None:
    assert parse_platform("linux/amd64") == Platform("linux", "amd64")
    assert parse_platform("linux/arm/v7") == Platform("linux", "arm", "v7")
    assert parse_platform("linux/aarch64") == Platform("linux", "arm64")
    assert parse_platform("linux/arm64/v8") == Platform("linux", "arm64")
    assert parse_platform("arm64") == Platform("linux", "arm64")
    assert str(parse_platform("Linux/ARM/v6")) == "linux/arm/v6"
    for bad in ("", "linux/", "a/b/c/d"):
        with pytest.raises(ValueError):
            parse_platform(bad)


def test_predefined_platform_args_from_the_options_and_build_args() -> None:
    values = platform_args(
        Platform("linux", "arm", "v7"), Platform("linux", "amd64"), "app", {"BUILDOS": "custom"}
    )
    assert values == {
        "BUILDPLATFORM": "linux/amd64",
        "BUILDOS": "custom",
        "BUILDARCH": "amd64",
        "BUILDVARIANT": "",
        "BUILDOSVERSION": "",
        "TARGETPLATFORM": "linux/arm/v7",
        "TARGETOS": "linux",
        "TARGETARCH": "arm",
        "TARGETVARIANT": "v7",
        "TARGETOSVERSION": "",
        "TARGETSTAGE": "app",
    }


def test_global_args_expand_in_order_and_build_args_override() -> None:
    result = staged('ARG BASE=alpine\nARG TAG=3.20\nARG IMAGE="$BASE:$TAG"\nARG EMPTY\nFROM $IMAGE\n')
    lexer = ShellLexer()
    scope = global_args(result.global_args, {"TARGETARCH": "amd64"}, {}, lexer)
    assert scope == {"TARGETARCH": "amd64", "BASE": "alpine", "TAG": "3.20", "IMAGE": "alpine:3.20"}
    overridden = global_args(result.global_args, {}, {"TAG": "edge", "EMPTY": "x"}, lexer)
    assert overridden["IMAGE"] == "alpine:edge" and overridden["EMPTY"] == "x"


def test_a_bad_global_default_reports_its_line() -> None:
    result = staged("ARG A=${B?B is required}\nFROM a\n")
    with pytest.raises(ExpansionError) as caught:
        global_args(result.global_args, {}, {}, ShellLexer())
    assert caught.value.location is not None and caught.value.location.line == 1


def test_declare_arg_takes_build_arg_then_default_then_global() -> None:
    lexer = ShellLexer()

    def declare(declaration: ArgDeclaration, build_args: dict[str, str]) -> str | None:
        value, _ = declare_arg(
            declaration,
            build_args=build_args,
            globals_={"VERSION": "1.0", "TARGETARCH": "arm64"},
            env={"HOME": "/root"},
            lexer=lexer,
            location=HERE,
        )
        return value

    assert declare(ArgDeclaration("VERSION"), {}) == "1.0"  # redeclared: the global value
    assert declare(ArgDeclaration("TARGETARCH"), {}) == "arm64"  # predefined, needs the declaration
    assert declare(ArgDeclaration("DIR", "$HOME/src"), {}) == "/root/src"
    assert declare(ArgDeclaration("DIR", "$HOME/src"), {"DIR": "/x"}) == "/x"
    assert declare(ArgDeclaration("UNSET"), {}) is None


def test_proxy_env_in_both_spellings_lower_case_build_arg_winning() -> None:
    pairs = proxy_env(
        {"HTTP_PROXY": "http://a", "http_proxy": "http://b", "no_proxy": "local", "OTHER": "x"}, {}
    )
    assert pairs == ("HTTP_PROXY=http://b", "http_proxy=http://b", "NO_PROXY=local", "no_proxy=local")
    assert proxy_env({"HTTPS_PROXY": "h"}, {"https_proxy": "declared"}) == ("HTTPS_PROXY=h",)
    assert proxy_env({}, {}) == ()
