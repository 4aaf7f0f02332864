"""BuildKit's word-expansion vectors through `slipway debug expand` (README rules in tests/conformance/data)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from slipway.cli import cli
from slipway.errors import ExpansionError

# The environment envVarTest is written against (NULL set, but to the empty string).
ENV_VAR_TEST_ENV = ("PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL=")


def _expand(runner: CliRunner, word: str, env: tuple[str, ...], *, words: bool) -> str:
    """The command's output, or "error" when it fails as an expansion error."""
    argv = ["debug", "expand", "--escape", "\\"]
    for assignment in env:
        argv += ["--env", assignment]
    if words:
        argv.append("--words")
    result = runner.invoke(cli, [*argv, "--", word])
    if result.exit_code != 0:
        assert isinstance(result.exception, ExpansionError), result.output
        return "error"
    return result.stdout


def _vector_lines(conformance_dir: Path, name: str) -> list[str]:
    text = (conformance_dir / "buildkit-shell" / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_env_var_test_for_all_and_unix_platforms(conformance_dir: Path) -> None:
    runner = CliRunner()
    checked, mismatches = 0, []
    for line in _vector_lines(conformance_dir, "envVarTest"):
        platform, word, expected = (column.strip() for column in line.split("|"))
        if platform not in ("A", "U"):
            continue
        checked += 1
        got = _expand(runner, word, ENV_VAR_TEST_ENV, words=False)
        want = "error" if expected == "error" else expected + "\n"
        if got != want:
            mismatches.append(f"{word!r}: got {got!r}, expected {want!r}")
    assert checked > 100
    assert not mismatches, "\n".join(mismatches)


def test_words_test_splits_as_the_exec_form(conformance_dir: Path) -> None:
    runner = CliRunner()
    env: list[str] = []
    checked, mismatches = 0, []
    for line in _vector_lines(conformance_dir, "wordsTest"):
        if line.startswith("ENV "):
            env.append(line[len("ENV ") :])  # the value kept exactly, trailing spaces too
            continue
        word, expected = line.split("|", 1)
        word, expected = word.strip(), expected.lstrip(" ")
        checked += 1
        got = _expand(runner, word, tuple(env), words=True)
        want = "error" if expected == "error" else "".join(item + "\n" for item in expected.split(","))
        if got != want:
            mismatches.append(f"{word!r}: got {got!r}, expected {want!r}")
    assert checked > 20
    assert not mismatches, "\n".join(mismatches)
