"""The fast path reads `slipway build` as click does: for every command line it accepts, the click command made
from the same table reads the same BuildFlags (and the same --root and --debug)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from slipway.cli import _build_flags, cli
from slipway.cli._build_flags import BUILD_FLAGS, CONTEXT, BuildFlags, Flag
from slipway.cli._context import ROOT_VARIABLE, default_root
from slipway.cli._fast import Invocation, parse

# Relative to the directory the tests run in (the fixture below): a directory, a file, a file named "-".
PATHS = ["ctx", "ctx/", "./ctx", "file", "-", "./-", "missing", "missing/dir", "", "."]
TEXT = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=6)
VALUES = st.one_of(
    TEXT,
    st.sampled_from(["-", "./-", "-x", "--quiet", "-t", "--", "=", "=x", "a=b", "0", "1", "+2", " 3", "1_0"]),
)


@pytest.fixture(scope="module", autouse=True)
def in_a_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    directory = tmp_path_factory.mktemp("cwd")
    (directory / "ctx").mkdir()
    (directory / "file").write_text("FROM scratch\n")
    (directory / "-").write_text("FROM scratch\n")
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def by_click(argv: list[str], environ: dict[str, str]) -> Invocation:
    """What the click group and its build command make of `argv`; click's own error if it refuses it."""
    seen: dict[str, Any] = {"debug": False}

    def build_command(root: Path, flags: BuildFlags) -> None:
        seen["root"], seen["flags"] = root, flags

    with (
        mock.patch.dict(os.environ, environ, clear=True),
        mock.patch("slipway.cli.build.build_command", build_command),
        mock.patch("slipway.cli._group.start_debug_logging", lambda: seen.update(debug=True)),
    ):
        cli.main(args=argv, prog_name="slipway", standalone_mode=False)
    return (str(seen["root"]), seen["debug"], seen["flags"])


def same_as_click(argv: list[str], environ: dict[str, str] | None = None) -> Invocation | None:
    environ = environ or {}
    fast = parse(argv, environ)
    if fast is not None:
        clicked = by_click(argv, environ)
        root, debug, flags = fast
        assert (str(default_root(root)), debug, flags) == clicked, argv
    return fast


@st.composite
def spelled(draw: st.DrawFn, flag: Flag) -> list[str]:
    """`flag` as a user may write it: any alias, its value attached or next, short flags run together."""
    alias = draw(st.sampled_from(flag.aliases))
    if flag.kind == "flag":
        return [alias]
    value = draw(value_of(flag))
    if len(alias) == 2:
        return draw(
            st.sampled_from(
                [[alias, value], [alias + value], [alias + "=" + value], ["-q" + alias[1:], value]]
            )
        )
    return draw(st.sampled_from([[alias, value], [f"{alias}={value}"]]))


def value_of(flag: Flag) -> st.SearchStrategy[str]:
    if flag.choices:
        return st.sampled_from((*flag.choices, "HOST"))
    if flag.type in ("file", "directory"):
        return st.one_of(st.sampled_from(PATHS), VALUES)
    return VALUES


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], dict[str, str]]:
    """Mostly command lines click accepts (so the comparison is made often), sometimes one it refuses."""
    group = draw(
        st.lists(
            st.sampled_from([["--debug"], ["--root", "r"], ["--root=store"], ["--root", "-x"]]), max_size=2
        )
    )
    parts = draw(st.lists(st.sampled_from(BUILD_FLAGS).flatmap(spelled), max_size=8))
    context = [draw(st.sampled_from(["ctx", "ctx/", "./ctx", "missing", "", ".", "-", "file"]))]
    parts.insert(draw(st.integers(0, len(parts))), context)
    if draw(st.integers(0, 4)) == 0:  # something only click answers, or a second context, or "--" somewhere
        odd = draw(
            st.sampled_from([["--"], ["--help"], ["--no-such-flag"], ["-z"], ["--root", "r"], ["ctx"]])
        )
        parts.insert(draw(st.integers(0, len(parts))), odd)
    words = [word for part in [*group, ["build"], *parts] for word in part]
    environ = draw(
        st.sampled_from([{}, {ROOT_VARIABLE: "from-env"}, {ROOT_VARIABLE: ""}, {ROOT_VARIABLE: "file"}])
    )
    return words, environ


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_lines())
@example((["build", "-t", "x", "-f", "./-", "ctx"], {}))
@example((["build", "-t", "x", "-f", "-", "ctx"], {}))
def test_click_reads_every_command_line_the_fast_path_accepts_the_same_way(
    case: tuple[list[str], dict[str, str]],
) -> None:
    same_as_click(*case)


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "ctx"],
        [
            "--root",
            "r",
            "--debug",
            "build",
            "--progress",
            "plain",
            "-t",
            "a:1",
            "--tag=b",
            "-tc",
            "ctx",
            "--network=host",
        ],
        ["build", "-f", "-", "ctx"],
        ["build", "-f", "./-", "ctx"],
        ["build", "-f-", "-t=odd", "ctx"],
        ["build", "-qtname", "-o", "-", "ctx"],
        ["build", "--target", "-x", "--label", "--quiet", "ctx"],
        [
            "build",
            "--build-arg",
            "A",
            "--build-arg=B=2",
            "--iidfile",
            "missing",
            "--max-parallelism",
            " 2",
            "ctx",
        ],
        ["build", "--no-cache", "--no-cache-filter", "a", "--pull", "--push", "--compression", "zstd", "ctx"],
        [
            "build",
            "--cache-to",
            "type=local,dest=d",
            "--cache-from=r",
            "--insecure-registry",
            "h:5000",
            "ctx",
        ],
        ["build", "-t", "x", "--", "-t"],  # after "--", a context named "-t"
        ["build", "ctx", "--tag", ""],
    ],
)
def test_every_build_flag_is_read_without_click(argv: list[str]) -> None:
    assert same_as_click(argv) is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["build"],  # no context
        ["build", "ctx", "second"],
        ["build", "-h", "ctx"],
        ["build", "--help"],
        ["--version"],
        ["--help", "build", "ctx"],
        ["images"],
        ["build", "-t"],  # no value
        ["build", "--progress", "fancy", "ctx"],
        ["build", "--network", "bridge", "ctx"],
        ["build", "--quiet=yes", "ctx"],
        ["build", "--max-parallelism", "0", "ctx"],
        ["build", "--iidfile", "ctx", "ctx"],  # a directory
        ["build", "--root", "r", "ctx"],  # --root belongs before `build`
        ["--root", "file", "build", "ctx"],
        ["build", "-qz", "ctx"],
        ["build", "---t", "x", "ctx"],
    ],
)
def test_what_click_must_answer_is_left_to_click(argv: list[str]) -> None:
    assert parse(argv, {}) is None


def test_the_flag_table_and_build_flags_agree() -> None:
    """BuildFlags is made from the table at run time; the type checker reads its declaration: the same fields."""
    assert BuildFlags._fields == (CONTEXT.name, *(flag.name for flag in BUILD_FLAGS))
    source = ast.parse(Path(_build_flags.__file__).read_text())
    declared = next(
        node for node in ast.walk(source) if isinstance(node, ast.ClassDef) and node.name == "BuildFlags"
    )
    fields = [
        node.target.id
        for node in declared.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    ]
    assert tuple(fields) == BuildFlags._fields
    aliases = [alias for flag in BUILD_FLAGS for alias in flag.aliases]
    assert len(aliases) == len(set(aliases))
    build = cli.get_command(click.Context(cli), "build")
    assert build is not None
    assert [param.name for param in build.params] == list(BuildFlags._fields)


def test_the_version_is_the_line_click_prints_and_needs_no_click() -> None:
    """`slipway --version` answers from the fast path with the group's own version line."""
    probe = "import sys; from slipway.cli import main; main(['--version']); print('click' in sys.modules)"
    fast = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    by_click = CliRunner().invoke(cli, ["--version"])
    assert by_click.exit_code == 0
    assert fast.stdout == by_click.output + "False\n"
    assert by_click.output.startswith("slipway, version ")
