"""frontend/outline.py: the documents of `--call targets|outline|check`, in BuildKit's shapes (no root: base
images are made up, as in test_checks.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
from test_checks import Images

from slipway.errors import SourceLocation
from slipway.frontend.checks import check_parsed, linter_for
from slipway.frontend.convert import ConvertOptions, convert
from slipway.frontend.outline import (
    ArgRecorder,
    doc_comment,
    format_outline,
    format_targets,
    lint_results,
    list_targets,
    make_outline,
)
from slipway.frontend.parser import parse
from slipway.frontend.stages import split_stages


def as_json(document: msgspec.Struct) -> Any:
    return json.loads(msgspec.json.encode(document))


def outline_of(text: str, target: str | None = None, build_args: tuple[tuple[str, str], ...] = ()) -> Any:
    parsed = parse(text)
    recorder = ArgRecorder(dict(build_args))
    graph = convert(parsed, ConvertOptions(target=target, build_args=build_args), Images(), recorder)
    return make_outline(parsed, graph, recorder, text.encode())


TARGETS = (
    "\n# build defines stage for compiling the binary\nFROM alpine AS build\nRUN true\n"
    "\nFROM busybox as second\nRUN false\n\nFROM alpine\nRUN false\n"
    "\n# binary returns the compiled binary\nFROM second AS binary\n"
)


def test_targets_are_every_stage_as_written() -> None:
    parsed = parse(TARGETS)
    listed = list_targets(parsed, split_stages(parsed), TARGETS.encode())
    document = as_json(listed)
    assert [base64.b64decode(source).decode() for source in document["sources"]] == [TARGETS]
    line = {"ranges": [{"start": {"line": 3}, "end": {"line": 3}}]}
    assert document["targets"][0] == {
        "name": "build",
        "description": "defines stage for compiling the binary",
        "base": "alpine",
        "location": line,
    }
    assert document["targets"][2] == {
        "base": "alpine",
        "location": {"ranges": [{"start": {"line": 9}, "end": {"line": 9}}]},
    }
    assert document["targets"][3]["default"] is True and document["targets"][3]["base"] == "second"
    assert format_targets(listed).split("\n") == [
        "TARGET           DESCRIPTION",
        "build            defines stage for compiling the binary",
        "second           ",
        "                 ",  # the unnamed stage that is not the default
        "binary (default) returns the compiled binary",
        "",
    ]


def test_doc_comments() -> None:
    assert doc_comment(["sfx is a suffix"], "sfx") == "is a suffix"
    assert doc_comment(["check=skip=all", "password is it"], "password") == "is it"
    assert doc_comment(["sfxx no"], "sfx") == ""
    assert doc_comment(["x y"], "") == ""


OUTLINE_ARGS = (
    '\nARG inherited=box\nARG inherited2=box2\nARG unused=abc${inherited2}\n# sfx is a suffix\nARG sfx="usy${inherited}"\n'
    "\nFROM b${sfx} AS first\n# this is not assigned to anything\nARG FOO=123\n# BAR is a number\nARG BAR=456\nRUN true\n"
    "\nFROM alpine${unused} AS second\nARG BAZ\nRUN true\n\nFROM scratch AS third\nARG ABC=a\n# check=skip=all\n"
    "ARG password\n# alternate_password will show up in the outline\n# check=skip=all\nARG alternate_password\n"
    "\n# target defines build target\nFROM third AS target\nCOPY --from=first /etc/passwd /\n\nFROM second\n"
)


def test_the_outline_lists_the_args_the_target_uses() -> None:
    outline = outline_of(OUTLINE_ARGS, target="target", build_args=(("BAR", "678"),))
    document = as_json(outline)
    assert (document["name"], document["description"]) == ("target", "defines build target")
    found = [
        (
            arg["name"],
            arg.get("value", ""),
            arg.get("description", ""),
            arg["location"]["ranges"][0]["start"]["line"],
        )
        for arg in document["args"]
    ]
    assert found == [
        ("inherited", "box", "", 2),
        ("sfx", "usybox", "is a suffix", 6),
        ("FOO", "123", "", 10),
        ("BAR", "678", "is a number", 12),
        ("ABC", "a", "", 20),
        ("password", "", "", 22),
        ("alternate_password", "", "will show up in the outline", 25),
    ]  # fmt: skip
    assert format_outline(outline).startswith(
        "TARGET:      target\nDESCRIPTION: defines build target\n\nBUILD ARG            VALUE    DESCRIPTION\n"
        "inherited            box      \n"
    )


def test_outline_args_made_of_other_args() -> None:
    text = (
        "\nARG FOO=123\nARG ABC=abc\nARG DEF=def\nARG FOO=${FOO}${ABC}\nARG BAR=${FOO}456\nARG FOO=${FOO}456${BAR}\n"
        "FROM scratch\nARG FOO\nARG INFOO=123\nARG INBAR=${INFOO}456\nARG INFOO=${INFOO}456${INBAR}\n"
    )
    args = as_json(outline_of(text))["args"]
    assert [(arg["name"], arg.get("value", "")) for arg in args] == [
        ("ABC", "abc"),
        ("BAR", "123abc456"),
        ("FOO", "123abc456123abc456"),
        ("INBAR", "123456"),
        ("INFOO", "123456123456"),
    ]


def test_the_outline_lists_secrets_and_ssh_sockets() -> None:
    text = (
        "\nFROM busybox AS first\nRUN --mount=type=secret,target=/etc/passwd,required=true --mount=type=ssh true\n"
        "\nFROM alpine AS second\nRUN --mount=type=secret,id=unused --mount=type=ssh,id=ssh2 true\n"
        "\nFROM scratch AS third\nARG BAR\nRUN --mount=type=secret,id=second${BAR} true\n"
        "\nFROM third AS target\nCOPY --from=first /foo /\nRUN --mount=type=ssh,id=ssh3,required true\n\nFROM second\n"
    )
    outline = outline_of(text, target="target", build_args=(("BAR", "678"),))
    document = as_json(outline)
    line = lambda item: item["location"]["ranges"][0]["start"]["line"]  # noqa: E731
    assert [(s["name"], s.get("required", False), line(s)) for s in document["secrets"]] == [
        ("passwd", True, 3),
        ("second678", False, 10),
    ]
    assert [(s["name"], s.get("required", False), line(s)) for s in document["ssh"]] == [
        ("default", False, 3),
        ("ssh3", True, 14),
    ]
    assert "SECRET      REQUIRED\npasswd      true\nsecond678   \n" in format_outline(outline)


def test_lint_results_in_buildkit_json() -> None:
    text = "FROM scratch as base\n"
    parsed = parse(text)
    linter = linter_for(parsed, {})
    check_parsed(parsed, linter)
    results = lint_results(
        "Dockerfile", text.encode(), linter.warnings, ("boom", SourceLocation("Dockerfile", 1, 1))
    )
    document = as_json(results)
    assert document["warnings"] == [
        {
            "ruleName": "FromAsCasing",
            "description": "The 'as' keyword should match the case of the 'from' keyword",
            "url": "https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
            "detail": "'as' and 'FROM' keywords' casing do not match",
            "location": {"ranges": [{"start": {"line": 1}, "end": {"line": 1}}]},
        }
    ]
    assert document["sources"] == [
        {"filename": "Dockerfile", "data": base64.b64encode(text.encode()).decode(), "language": "Dockerfile"}
    ]
    assert document["buildError"] == {
        "message": "boom",
        "location": {"ranges": [{"start": {"line": 1}, "end": {"line": 1}}]},
    }
    empty = as_json(lint_results("Dockerfile", b"", [], None))
    assert empty == {"warnings": None, "sources": [{"filename": "Dockerfile", "language": "Dockerfile"}]}
