"""The Dockerfile parser: BuildKit's parse rules, one feature at a time, and errors that name file and line."""

from __future__ import annotations

from contextlib import suppress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slipway.errors import DockerfileError, DockerfileSyntaxError, SourceLocation
from slipway.frontend.parser import (
    Heredoc,
    Instruction,
    ParsedDockerfile,
    dump,
    parse,
    parse_instruction_line,
)


def only(text: str) -> Instruction:
    """The one instruction after a FROM line."""
    parsed = parse("FROM scratch\n" + text)
    assert len(parsed.instructions) == 2, dump(parsed)
    return parsed.instructions[1]


def syntax_error(text: str | bytes, path: str = "Dockerfile") -> DockerfileSyntaxError:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse(text, path=path)
    assert caught.value.location is not None
    assert caught.value.location.path == path
    assert str(caught.value).startswith(f"{caught.value.location}: ")
    return caught.value


# --- instructions and their arguments -----------------------------------------------------------------


def test_keywords_are_case_insensitive_and_reported_lower_case() -> None:
    parsed = parse("from alpine AS build\nRun echo hi\nwOrKdIr /src\n")
    assert [instruction.keyword for instruction in parsed.instructions] == ["from", "run", "workdir"]
    assert parsed.instructions[0].args == ("alpine", "AS", "build")
    assert dump(parsed) == '(from "alpine" "AS" "build")\n(run "echo hi")\n(workdir "/src")\n'


def test_shell_form_keeps_the_rest_of_the_line_as_one_argument() -> None:
    run = only("RUN   echo  'a  b'   &&  ls   \n")
    assert run.args == ("echo  'a  b'   &&  ls",)
    assert not run.json_form
    assert run.original == "RUN   echo  'a  b'   &&  ls   "


def test_exec_form_gives_one_argument_per_element() -> None:
    cmd = only('CMD [ "/bin/sh", "-c", "echo \\"hi\\" \\u00e9" ]\n')
    assert cmd.args == ("/bin/sh", "-c", 'echo "hi" é')
    assert cmd.json_form


def test_empty_json_array_has_no_arguments() -> None:
    cmd = only("CMD []\n")
    assert cmd.args == () and cmd.json_form
    assert dump(parse("CMD []\n")) == "(cmd)\n"


@pytest.mark.parametrize(
    "text",
    [
        "CMD ['single', 'quotes']",  # not JSON
        'CMD ["unterminated]',
        'CMD ["a"] trailing words',
        "CMD [NaN]",  # Python's json reads NaN, Go's does not
        "CMD [1e400]",  # overflows Go's float64: Go fails to decode, so shell form
        'CMD {"a": 1}',
    ],
)
def test_what_is_not_a_json_array_falls_back_to_shell_form(text: str) -> None:
    cmd = only(text + "\n")
    assert cmd.args == (text[len("CMD ") :],)
    assert not cmd.json_form


@pytest.mark.parametrize("text", ["CMD [1]", 'CMD ["a", ["nested"]]', 'RUN ["a", null]', 'COPY ["a", true]'])
def test_json_array_of_non_strings_is_an_error(text: str) -> None:
    error = syntax_error("FROM scratch\n" + text + "\n")
    assert error.location == SourceLocation("Dockerfile", 2, 2)
    assert "arrays must be comprised of strings only" in error.message


def test_lone_utf16_surrogate_in_json_becomes_the_replacement_character() -> None:
    assert only('CMD ["\\ud800x"]\n').args == ("\ufffdx",)


def test_copy_add_and_volume_split_shell_form_on_blanks() -> None:
    parsed = parse('FROM x\nCOPY a  "b c"\td/\nADD ["x y", "/z"]\nVOLUME /a /b\n')
    assert [instruction.args for instruction in parsed.instructions[1:]] == [
        ("a", '"b', 'c"', "d/"),
        ("x y", "/z"),
        ("/a", "/b"),
    ]


def test_env_name_value_pairs_give_name_value_and_separator() -> None:
    env = only('ENV A=1 B="two words" C=3\\ 4 D= E=""\n')
    assert env.args == (
        "A",
        "1",
        "=",
        "B",
        '"two words"',
        "=",
        "C",
        "3\\ 4",
        "=",
        "D",
        "",
        "=",
        "E",
        '""',
        "=",
    )


def test_env_legacy_form_takes_the_rest_of_the_line_as_value() -> None:
    assert only("ENV GREETING hello  wide world\n").args == ("GREETING", "hello  wide world", "")
    assert only("LABEL maintainer Jane <jane@example.com>\n").args == (
        "maintainer",
        "Jane <jane@example.com>",
        "",
    )


def test_env_errors_say_what_is_missing() -> None:
    assert "ENV must have two arguments" in syntax_error("FROM x\nENV PATH\n").message
    error = syntax_error("FROM x\nENV A=1 B\n")
    assert 'can\'t find = in "B"' in error.message
    assert error.location == SourceLocation("Dockerfile", 2, 2)


def test_arg_keeps_each_word_with_its_quotes() -> None:
    assert only('ARG A B=2 C="x y" D=\n').args == ("A", "B=2", 'C="x y"', "D=")


def test_healthcheck_takes_a_type_then_a_command() -> None:
    parsed = parse(
        'FROM x\nHEALTHCHECK NONE\nHEALTHCHECK --interval=5s CMD curl -f http://x/\nHEALTHCHECK CMD ["a", "b"]\n'
    )
    none, shell, exec_form = parsed.instructions[1:]
    assert none.args == ("NONE",)
    assert shell.flags == ("--interval=5s",) and shell.args == ("CMD", "curl -f http://x/")
    assert exec_form.args == ("CMD", "a", "b") and exec_form.json_form


def test_every_reference_instruction_parses() -> None:
    text = "\n".join(
        [
            "FROM alpine:3 AS base",
            "RUN apk add curl",
            'CMD ["sh"]',
            "LABEL a=b",
            "MAINTAINER someone",
            "EXPOSE 80/tcp 443",
            "ENV A=1",
            "ADD https://example.com/x /x",
            "COPY . /src",
            'ENTRYPOINT ["/init"]',
            "VOLUME /data",
            "USER app:app",
            "WORKDIR /src",
            "ARG VERSION=1",
            "ONBUILD RUN make",
            "STOPSIGNAL SIGTERM",
            "HEALTHCHECK NONE",
            'SHELL ["/bin/bash", "-c"]',
        ]
    )
    parsed = parse(text)
    assert [instruction.keyword for instruction in parsed.instructions] == [
        "from", "run", "cmd", "label", "maintainer", "expose", "env", "add", "copy", "entrypoint",
        "volume", "user", "workdir", "arg", "onbuild", "stopsignal", "healthcheck", "shell",
    ]  # fmt: skip
    assert parsed.instructions[4].args == ("someone",)
    assert parsed.instructions[15].args == ("SIGTERM",)


# --- flags ------------------------------------------------------------------------------------------


def test_flags_come_off_the_front_of_the_line() -> None:
    copy = only('COPY --from=build --chown="app user" --link src/ /dst/\n')
    assert copy.flags == ("--from=build", "--chown=app user", "--link")
    assert copy.args == ("src/", "/dst/")
    assert (
        dump(parse("FROM x\nCOPY --from=0 --link a b\n")).splitlines()[1]
        == '(copy ["--from=0" "--link"] "a" "b")'
    )


def test_flags_stop_at_the_first_word_that_is_no_flag() -> None:
    run = only("RUN --mount=type=cache,target=/root/.cache pip install --user x\n")
    assert run.flags == ("--mount=type=cache,target=/root/.cache",)
    assert run.args == ("pip install --user x",)


def test_double_dash_ends_the_flags() -> None:
    assert only("RUN --network=none -- --version\n").args == ("--version",)
    cmd = only('CMD --doit -- [ "a" ]\n')
    assert cmd.flags == ("--doit",) and cmd.args == ("a",) and cmd.json_form


def test_flag_values_lose_quotes_and_backslash_escapes() -> None:
    assert only("COPY --chown=a\\ b --x='q r' s t\n").flags == ("--chown=a b", "--x=q r")


# --- directives, comments, escape -------------------------------------------------------------------


def test_directives_at_the_top_are_recorded_in_order() -> None:
    parsed = parse("# syntax=docker/dockerfile:1.7\n#  Escape = `\n#check=skip=all;error=true\nFROM x\n")
    assert parsed.directives == (
        ("syntax", "docker/dockerfile:1.7"),
        ("escape", "`"),
        ("check", "skip=all;error=true"),
    )
    assert parsed.escape == "`"
    assert parsed.instructions[0].comments == ()


@pytest.mark.parametrize(
    "text",
    [
        "FROM x\n# escape=`\nRUN a `\n",  # after an instruction
        "\n# escape=`\nFROM x\nRUN a `\n",  # after a blank line
        "# a comment\n# escape=`\nFROM x\nRUN a `\n",  # after a comment
    ],
)
def test_a_directive_below_anything_else_is_a_comment(text: str) -> None:
    parsed = parse(text)
    assert parsed.directives == ()
    assert parsed.escape == "\\"
    assert parsed.instructions[-1].args == ("a `",)


def test_a_repeated_directive_is_an_error_at_its_line() -> None:
    error = syntax_error("# syntax=a\n# SYNTAX=b\nFROM x\n")
    assert error.location == SourceLocation("Dockerfile", 2, 2)
    assert "only one syntax parser directive" in error.message


def test_an_invalid_escape_character_is_an_error() -> None:
    error = syntax_error("# escape=/\nFROM x\n")
    assert error.location == SourceLocation("Dockerfile", 1, 1)
    assert "invalid escape token '/'" in error.message


def test_backtick_escape_continues_lines_and_backslash_is_plain() -> None:
    parsed = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo done\n")
    assert parsed.instructions[1].args == ("dir c:\\   && echo done",)
    assert parsed.instructions[1].location == SourceLocation("Dockerfile", 3, 4)


def test_comments_before_an_instruction_are_kept_and_an_empty_comment_resets_them() -> None:
    parsed = parse("# first\n\n# second\nFROM x\n# dropped\n#\n#   kept  \nRUN y\nRUN z\n")
    assert [instruction.comments for instruction in parsed.instructions] == [
        ("first", "second"),
        ("kept",),
        (),
    ]


# --- lines -------------------------------------------------------------------------------------------


def test_continuation_lines_are_joined_and_comment_lines_inside_dropped() -> None:
    run = only("RUN apt-get update \\\n# a comment\n    && apt-get install -y curl \\\n  && true\n")
    assert run.args == ("apt-get update     && apt-get install -y curl   && true",)
    assert run.location == SourceLocation("Dockerfile", 2, 5)
    assert run.original == "RUN apt-get update     && apt-get install -y curl   && true"


def test_empty_continuation_lines_are_skipped_with_a_warning() -> None:
    parsed = parse("FROM x\nRUN a \\\n\n   \\\n b\n")
    assert parsed.instructions[1].args == ("a     b",)  # "   \\" is no empty line: it continues with blanks
    assert len(parsed.warnings) == 1
    assert parsed.warnings[0].startswith("Dockerfile:2-5: empty continuation line")


def test_a_doubled_escape_at_the_end_is_no_continuation() -> None:
    parsed = parse("FROM x\nENV A=a\\\\\nENV B=b\n")
    assert [instruction.args for instruction in parsed.instructions[1:]] == [
        ("A", "a\\\\", "="),
        ("B", "b", "="),
    ]


def test_a_continuation_at_the_end_of_the_file_ends_the_instruction() -> None:
    assert only("RUN something \\").args == ("something",)
    assert only("RUN something \\\n\n").args == ("something",)


def test_leading_white_space_and_blank_lines_do_not_matter() -> None:
    parsed = parse("\n\n   FROM x\n\t \n\t RUN y\n")
    assert [(i.keyword, i.location.line) for i in parsed.instructions] == [("from", 3), ("run", 5)]


def test_crlf_files_parse_as_lf_files() -> None:
    lf = 'FROM x\nRUN a \\\n  b\nCMD ["c"]\n'
    assert dump(parse(lf.replace("\n", "\r\n"))) == dump(parse(lf))


def test_a_utf8_byte_order_mark_is_ignored() -> None:
    parsed = parse(b"\xef\xbb\xbf# syntax=x\nFROM x\n")
    assert parsed.directives == (("syntax", "x"),)
    assert parsed.instructions[0].args == ("x",)


def test_text_and_bytes_parse_alike() -> None:
    text = "FROM x\nRUN echo héllo\n"
    assert parse(text) == parse(text.encode())


# --- ONBUILD -----------------------------------------------------------------------------------------


def test_onbuild_holds_its_trigger_as_a_nested_instruction() -> None:
    onbuild = only('ONBUILD COPY --from=x ["a", "b"]\n')
    assert onbuild.keyword == "onbuild"
    assert onbuild.args == ('COPY --from=x ["a", "b"]',)
    assert onbuild.nested is not None
    assert (onbuild.nested.keyword, onbuild.nested.flags, onbuild.nested.args) == (
        "copy",
        ("--from=x",),
        ("a", "b"),
    )
    assert dump(parse('ONBUILD COPY --from=x ["a", "b"]\n')) == '(onbuild (copy ["--from=x"] "a" "b"))\n'


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ("ONBUILD RUN x", "ONBUILD ONBUILD"),
        ("FROM alpine", "FROM isn't allowed as an ONBUILD trigger"),
        ("maintainer me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ],
)
def test_onbuild_refuses_some_triggers(trigger: str, message: str) -> None:
    error = syntax_error(f"FROM x\n\nONBUILD {trigger}\n")
    assert message in error.message
    assert error.location == SourceLocation("Dockerfile", 3, 3)


def test_onbuild_trigger_with_a_heredoc() -> None:
    onbuild = only("ONBUILD RUN <<EOF\necho later\nEOF\n")
    assert onbuild.nested is not None
    expected = (Heredoc(name="EOF", content="echo later\n", expand=True, chomp=False),)
    assert onbuild.heredocs == expected == onbuild.nested.heredocs
    assert onbuild.location == onbuild.nested.location == SourceLocation("Dockerfile", 2, 4)


def test_parse_instruction_line_reads_one_stored_trigger() -> None:
    run = parse_instruction_line("RUN <<EOF\nmake\nEOF", "base image ONBUILD", 12)
    assert run.keyword == "run"
    assert run.heredocs == (Heredoc(name="EOF", content="make\n", expand=True, chomp=False),)
    assert run.location == SourceLocation("base image ONBUILD", 12, 14)
    assert parse_instruction_line("COPY a `\n b", "Dockerfile", 1, escape="`").args == ("a", "b")


def test_parse_instruction_line_refuses_several_instructions() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_instruction_line("RUN a\nRUN b", "Dockerfile", 5)
    assert caught.value.location == SourceLocation("Dockerfile", 5, 6)


# --- heredocs ----------------------------------------------------------------------------------------


def test_heredoc_body_is_read_up_to_its_delimiter() -> None:
    parsed = parse("FROM x\nRUN <<EOF\napt-get update\n  echo $HOME\nEOF\nCMD done\n")
    run = parsed.instructions[1]
    assert run.args == ("<<EOF",)
    assert run.heredocs == (
        Heredoc(name="EOF", content="apt-get update\n  echo $HOME\n", expand=True, chomp=False),
    )
    assert run.location == SourceLocation("Dockerfile", 2, 5)
    assert parsed.instructions[2].location.line == 6


def test_dash_heredoc_strips_leading_tabs_from_body_and_delimiter() -> None:
    run = only("RUN <<-EOT\n\t\tindented\n\t  mixed\n\tEOT\n")
    assert run.heredocs == (Heredoc(name="EOT", content="indented\n  mixed\n", expand=True, chomp=True),)


@pytest.mark.parametrize("marker", ['<<"EOF"', "<<'EOF'", '<<E"O"F', "<<'E'OF"])
def test_quoted_delimiters_turn_expansion_off(marker: str) -> None:
    copy = only(f"COPY {marker} /etc/conf\n$NOT_EXPANDED\nEOF\n")
    assert copy.heredocs == (Heredoc(name="EOF", content="$NOT_EXPANDED\n", expand=False, chomp=False),)


def test_several_heredocs_on_one_line_are_read_in_order() -> None:
    parsed = parse("FROM x\nRUN 3<<A cat /dev/fd/3 - <<-'B'\none\nA\n\ttwo\n\tB\nRUN next\n")
    run = parsed.instructions[1]
    assert parsed.instructions[2].location.line == 7
    assert run.heredocs == (
        Heredoc(name="A", content="one\n", expand=True, chomp=False, file_descriptor=3),
        Heredoc(name="B", content="two\n", expand=False, chomp=True),
    )
    assert run.location == SourceLocation("Dockerfile", 2, 6)


def test_heredocs_only_for_run_copy_and_add_in_shell_form() -> None:
    parsed = parse('FROM x\nENV A=<<EOF\nRUN ["cat", "<<EOF"]\nLABEL x=y\n')
    assert [instruction.heredocs for instruction in parsed.instructions] == [(), (), (), ()]
    assert len(parsed.instructions) == 4


def test_quoted_or_escaped_heredoc_markers_are_plain_text() -> None:
    assert only("RUN echo '<<EOF' \"<<EOF\" \\<<EOF\n").heredocs == ()


def test_heredoc_body_keeps_crlf_as_buildkit_does() -> None:
    run = only("RUN <<EOF\r\nline\r\nEOF\r\n")
    assert run.heredocs[0].content == "line\r\n"


def test_heredoc_as_the_last_lines_without_final_newline() -> None:
    assert only("COPY <<EOF /x\nbody\nEOF").heredocs[0].content == "body\n"


def test_unterminated_heredoc_is_an_error_at_its_instruction() -> None:
    error = syntax_error("FROM x\nRUN <<EOF\necho never ends\n")
    assert "unterminated heredoc" in error.message
    assert error.location == SourceLocation("Dockerfile", 2, 3)


# --- errors ------------------------------------------------------------------------------------------


def test_an_unknown_instruction_parses_without_arguments() -> None:
    # BuildKit's parser reads any keyword (parseIgnore); the instruction is refused when it is typed, after
    # the build checks have seen the lines above it (test_instructions.py).
    parsed = parse("FROM x\nRUN a\nRUNN b c\n", path="app/Dockerfile")
    unknown = parsed.instructions[-1]
    assert (unknown.keyword, unknown.args, unknown.original) == ("runn", (), "RUNN b c")
    assert unknown.location == SourceLocation("app/Dockerfile", 3, 3)


@pytest.mark.parametrize("text", ["\n\n", "# only a comment\n", "# syntax=x\n"])
def test_a_file_with_no_instructions_is_an_error(text: str) -> None:
    assert "file with no instructions" in syntax_error(text).message


def test_an_empty_file_is_an_error_in_buildkit_words() -> None:
    assert syntax_error("").message.startswith("the Dockerfile cannot be empty")


def test_bytes_that_are_not_utf8_are_an_error_at_their_line() -> None:
    error = syntax_error(b"FROM x\nRUN echo \xff\xfe\n")
    assert error.location == SourceLocation("Dockerfile", 2, 2)
    assert "not UTF-8" in error.message


def test_lone_continuation_is_an_error() -> None:
    assert "line continuation" in syntax_error("\\\n").message


@pytest.mark.parametrize(
    "text",
    [
        "FROM x\nRUN <<EOF",  # truncated in a heredoc
        "FROM x\nENV A",  # truncated in an ENV
        'FROM x\nENV A="unterminated',
        "FROM x\n\x00\x01\x02 garbage",
        "FROM x\nONBUILD",  # accepted by the parser: instructions.py asks for a trigger
    ],
)
def test_truncated_and_garbage_files_fail_cleanly_or_parse(text: str) -> None:
    with suppress(DockerfileError):
        parsed = parse(text)
        assert isinstance(parsed, ParsedDockerfile)


# --- dump ------------------------------------------------------------------------------------------------


def test_dump_quotes_arguments_as_go_does() -> None:
    parsed = parse(
        'FROM x\nCMD ["tab\\there", "nl\\n", "bell\\u0007", "del\\u007f", "nbsp\\u00a0", "é ☃", "\\\\ \\""]\n'
    )
    assert dump(parsed).splitlines()[1] == (
        '(cmd "tab\\there" "nl\\n" "bell\\a" "del\\x7f" "nbsp\\u00a0" "é ☃" "\\\\ \\"")'
    )


# --- nothing but results and DockerfileErrors --------------------------------------------------------

_TOKENS = st.sampled_from(
    [
        "FROM x", "RUN", "COPY", "ADD", "ENV", "ONBUILD", "HEALTHCHECK", "CMD", "ARG", "LABEL", "\n", "\n", " ",
        "\t", "\\", "`", "\\\n", "#", "# escape=`\n", "# syntax=a\n", "--from=a", "--", "'", '"', "=", "a=b",
        "<<EOF", "<<-E", "EOF\n", "\tE\n", '["a"', "]", ", 1", "$x", "${y:-z}", "\r", "\ufeff", "\x00", "é",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_random_text_parses_or_raises_a_dockerfile_error(text: str) -> None:
    with suppress(DockerfileError):
        _check_invariants(parse(text), text)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_random_bytes_parse_or_raise_a_dockerfile_error(data: bytes) -> None:
    with suppress(DockerfileError):
        parse(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=30).map("".join))
def test_dockerfile_like_text_parses_or_raises_a_dockerfile_error(text: str) -> None:
    try:
        parsed = parse(text, path="fuzz/Dockerfile")
    except DockerfileError as err:
        assert err.location is not None and err.location.path == "fuzz/Dockerfile"
        assert 1 <= err.location.line <= err.location.end_line
        return
    _check_invariants(parsed, text)


def _check_invariants(parsed: ParsedDockerfile, text: str) -> None:
    line_count = max(text.count("\n") + 1, 1)
    previous_end = 0
    for instruction in parsed.instructions:
        assert previous_end < instruction.location.line <= instruction.location.end_line <= line_count
        previous_end = instruction.location.end_line
    assert dump(parsed).count("\n") == len(parsed.instructions)
