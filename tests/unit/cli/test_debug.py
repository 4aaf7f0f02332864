"""`slipway debug ast` and `slipway debug expand` through the real entry point, main()."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.cli import main


def run_slipway(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `slipway ARGV`."""
    try:
        main(argv)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ast_prints_the_dump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM alpine\nCOPY --link a b\nCMD ["sh"]\n')
    code, out, err = run_slipway(["debug", "ast", str(dockerfile)], capsys)
    assert (code, out, err) == (0, '(from "alpine")\n(copy ["--link"] "a" "b")\n(cmd "sh")\n', "")


def test_ast_warns_about_empty_continuation_lines_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM x\nRUN a \\\n\n b\n")
    code, out, err = run_slipway(["debug", "ast", str(dockerfile)], capsys)
    assert (code, out) == (0, '(from "x")\n(run "a  b")\n')
    assert err.startswith(f"warning: {dockerfile}:2-4: empty continuation line")


def test_ast_error_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM x\nRUN <<EOF\nnever closed\n")
    code, out, err = run_slipway(["debug", "ast", str(dockerfile)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {dockerfile}:2-3: unterminated heredoc")


def test_ast_of_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_slipway(["debug", "ast", str(tmp_path / "nope")], capsys)
    assert code == 2
    assert "does not exist" in err


def test_expand_prints_the_expansion(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_slipway(["debug", "expand", "--env", "A=1", "--env", "B", "x${A}${B-d}$C"], capsys)
    assert (code, out) == (0, "x1\n")  # B is set, to the empty string


def test_expand_words_prints_one_word_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_slipway(["debug", "expand", "--words", "--env", "V=a  b", "$V 'c d'"], capsys)
    assert (code, out) == (0, "a\nb\nc d\n")


def test_expand_with_backtick_escape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_slipway(["debug", "expand", "--escape", "`", "--env", "A=1", "C:\\x `$A $A"], capsys)
    assert (code, out) == (0, "C:\\x $A 1\n")


def test_expand_failure_exits_non_zero_with_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_slipway(["debug", "expand", "${NAME:?is required}"], capsys)
    assert (code, out) == (1, "")
    assert err == 'error: failed to process "${NAME:?is required}": NAME: is required\n'


def test_expand_refuses_an_assignment_without_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_slipway(["debug", "expand", "--env", "=x", "$x"], capsys)
    assert code == 2
    assert "has no name" in err
