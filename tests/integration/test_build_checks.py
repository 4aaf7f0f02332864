"""Build checks and `--call` through the `slipway` command: what a user sees (BuildKit's own cases are in
tests/buildkit/test_dockerfile_check.py; these cover slipway's side: progress modes, the memo, the text
forms, errors shown with their Dockerfile lines)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

WARNED = "FROM busybox:test as build\nRUN echo built > /built\nCMD echo hi\n"
SHORT = re.compile(r"^ - (\w+: .* \(line \d+\))$", re.MULTILINE)


def test_warnings_are_shown_when_the_build_ends_and_again_on_a_rebuild(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", WARNED)
    for attempt in ("build", "no-op rebuild from the memo"):
        result = own_store.build_ok(context, "-t", "checks:warned")
        stderr = result.stderr
        assert " 2 warnings found:\n" in stderr, (attempt, stderr)
        assert SHORT.findall(stderr) == [
            "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
            "JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to "
            "OS signals (line 3)",
        ], attempt
        assert "More info: https://docs.docker.com/go/dockerfile/rule/from-as-casing/" in stderr
        assert "   1 | >>> FROM busybox:test as build" in stderr
    assert "CACHED" in stderr, "the second build was answered without running anything"


def test_rawjson_carries_the_warnings_as_typed_events(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nMAINTAINER me\n")
    result = own_store.build_ok(context, "--progress", "rawjson")
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    warnings = [event for event in events if event["type"] == "BuildWarning"]
    assert len(warnings) == 1
    assert warnings[0]["rule"] == "MaintainerDeprecated" and warnings[0]["line"] == 2
    assert "warnings found" not in result.stderr


def test_quiet_builds_still_show_warnings_on_stderr(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nWORKDIR app\n")
    result = own_store.build_ok(context, "-q")
    assert result.stdout.startswith("sha256:")
    assert SHORT.findall(result.stderr) == [
        'WorkdirRelativePath: Relative workdir "app" can have unexpected results if the base image changes '
        "(line 2)"
    ]


def test_error_true_fails_before_anything_runs(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "# check=error=true\n" + WARNED)
    result = own_store.build(context, "-t", "checks:refused")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "lint violation found for rules: FromAsCasing, JSONArgsRecommended" in result.stderr
    assert not re.search(r"^#\d+ .*RUN echo built", result.stderr, re.MULTILINE), "no step ran"
    assert own_store("inspect", "checks:refused").returncode != 0
    skipped = own_store.build(context, "--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=all")
    assert skipped.returncode == 0, skipped.stderr


def test_call_check_lists_the_warnings_without_building(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", WARNED)
    result = own_store.build(context, "--check")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("Check complete, 2 warnings have been found!\n")
    assert (
        "\nWARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/\n"
        in result.stdout
    )
    assert "echo built" not in result.stderr, "nothing ran"
    clean = make_context(tmp_path / "clean", "FROM busybox:test\n")
    assert own_store.build_ok(clean, "--call", "check").stdout == "Check complete, no warnings found.\n"
    document = json.loads(own_store.build(context, "--call", "check,format=json").stdout)
    assert [warning["ruleName"] for warning in document["warnings"]] == [
        "FromAsCasing",
        "JSONArgsRecommended",
    ]


def test_call_check_reports_the_error_with_its_lines(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test AS Base\nCOPY --chmod=99x a /\n")
    result = own_store.build(context, "--call", "check", "--format", "json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["buildError"]["message"].endswith(
        "invalid chmod parameter: '99x'. it should be octal string and between 0 and 07777"
    )
    assert document["buildError"]["location"]["ranges"][0]["start"]["line"] == 2
    assert "   2 | >>> COPY --chmod=99x a /" in result.stderr


def test_call_targets_and_outline_in_text(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    dockerfile = (
        "ARG VERSION=1\n# build compiles\nFROM busybox:test AS build\n# MODE how to build\nARG MODE=fast\n"
        "RUN --mount=type=secret,id=token,required echo $MODE\nFROM scratch\nCOPY --from=build /bin/sh /sh\n"
    )
    context = make_context(tmp_path / "ctx", dockerfile)
    targets = own_store.build_ok(context, "--call", "targets")
    assert targets.stdout.splitlines() == ["TARGET    DESCRIPTION", "build     compiles", "(default) "]
    outline = own_store.build_ok(
        context, "--call", "outline", "--target", "build", "--build-arg", "MODE=slow"
    )
    assert outline.stdout.splitlines() == [
        "TARGET:      build",
        "DESCRIPTION: compiles",
        "",
        "BUILD ARG   VALUE   DESCRIPTION",
        "MODE        slow    how to build",
        "",
        "SECRET   REQUIRED",
        "token    true",
        "",
    ]
    assert "sha256:" not in outline.stderr, "nothing was built"


@pytest.mark.parametrize(
    ("dockerfile", "marked", "message"),
    [
        ("FROM busybox:test\nENV\n", [2], "ENV"),
        ("FROM busybox:test\nRUN --mont=type=tmpfs,target=/x \\\n  true\n", [2, 3], "unknown flag: --mont (did you mean mount?)"),
        ("FROM busybox:test AS build\nFROM busybox:test\nCOPY --from=bulid /a /a\n", [3], "(did you mean build?)"),
        ("# syntax=example.com/frontend:1\nFROM busybox:test\n", [1], "syntax directive names the frontend"),
    ],
)  # fmt: skip
def test_dockerfile_errors_show_their_lines(
    own_store: Any, make_context: Any, tmp_path: Path, dockerfile: str, marked: list[int], message: str
) -> None:
    result = own_store.build(make_context(tmp_path / "ctx", dockerfile))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert [int(number) for number in re.findall(r"^\s*(\d+) \| >>>", result.stderr, re.MULTILINE)] == marked
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: failed to solve: ") and message in last, result.stderr
