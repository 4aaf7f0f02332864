"""Dockerfile text to a list of instructions, by BuildKit's `frontend/dockerfile/parser` rules.

The parser knows the syntax only: parser directives, comments, line continuations, heredocs, JSON and
shell forms, flags, and how each instruction's arguments are split (`_line_parsers.py`). What the
instructions mean (and most of their argument checks) is the `instructions` package's job. Quirks of
BuildKit are kept on purpose, so that a Dockerfile means the same here as under `docker build`; each is
marked where it is kept.
"""

from __future__ import annotations

import functools
import re

import msgspec

from slipway.errors import DockerfileSyntaxError, ExpansionError, SourceLocation
from slipway.frontend._golang import GO_SPACE, find_surrogate, go_quote
from slipway.frontend._line_parsers import (
    ARGUMENT_PARSERS,
    BLANKS,
    ArgumentError,
    no_arguments,
    shell_specials_pattern,
    split_command,
    split_words,
)
from slipway.frontend.shell import ShellLexer

__all__ = ["Heredoc", "Instruction", "ParsedDockerfile", "dump", "parse", "parse_instruction_line"]


class Heredoc(msgspec.Struct, frozen=True):
    name: str  # the delimiter word, e.g. "EOF"
    content: str  # the body lines with their line endings (tabs stripped for <<-); "" when empty
    expand: bool  # False when the delimiter was quoted (<<"EOF" / <<'EOF')
    chomp: bool  # True for <<-
    file_descriptor: int = 0  # the 3 of 3<<EOF; 0 when none was written


class Instruction(msgspec.Struct, frozen=True):
    """One top-level instruction: a child of BuildKit's root Node.

    For ONBUILD, `args` is the trigger's text (after ONBUILD and its flags) and `nested` the parsed
    trigger; heredocs of a trigger are on both the ONBUILD instruction and its nested one.
    """

    keyword: str  # lower-case: "from", "run", "copy", ...
    args: tuple[str, ...]  # argument nodes in order, split as BuildKit's per-instruction parse functions do
    flags: tuple[str, ...]  # ("--from=0", "--chown=a") as written
    json_form: bool  # args came from a JSON array
    original: str  # the instruction's original text, continuation lines joined (BuildKit's Node.Original)
    heredocs: tuple[Heredoc, ...]
    location: SourceLocation  # start line .. end line (heredoc bodies included)
    nested: Instruction | None = None  # ONBUILD's instruction
    comments: tuple[str, ...] = ()  # comment lines just before it (BuildKit's PrevComment)


class ParsedDockerfile(msgspec.Struct, frozen=True):
    path: str
    instructions: tuple[Instruction, ...]
    escape: str  # "\\" or "`"
    directives: tuple[tuple[str, str], ...]  # (lower-cased name, value) for syntax/escape/check, in order
    warnings: tuple[str, ...] = ()  # e.g. empty continuation lines (BuildKit warns)
    empty_continuations: tuple[int, ...] = ()  # the last line of each instruction with an empty continuation


def parse(text: str | bytes, path: str = "Dockerfile") -> ParsedDockerfile:
    """Parse a whole Dockerfile; DockerfileSyntaxError names `path` and the line."""
    parser = _Parser(path, escape="\\", line_offset=0, directives_allowed=True)
    parsed = parser.run(_decode(text, path))
    if not parsed.instructions:
        # BuildKit's words for an empty file, and for one of comments and blank lines only.
        empty = "the Dockerfile cannot be empty" if not text else "file with no instructions"
        raise parser.error(f"{empty}: a Dockerfile needs at least a FROM", max(parser.line_count, 1))
    return parsed


def parse_instruction_line(text: str, path: str, line: int, escape: str = "\\") -> Instruction:
    """Parse one instruction (an ONBUILD trigger stored in an image config), reported at `line`.

    The text may hold continuation lines and heredoc bodies, as BuildKit stores triggers with them.
    """
    _check_escape(escape, SourceLocation(path, line, line))
    source = _decode(text, path)
    parsed = _Parser(path, escape=escape, line_offset=line - 1, directives_allowed=False).run(source)
    if len(parsed.instructions) != 1:
        raise DockerfileSyntaxError(
            f"an ONBUILD trigger must be a single instruction, found {len(parsed.instructions)}",
            SourceLocation(path, line, line + source.rstrip("\n").count("\n")),
        )
    return parsed.instructions[0]


def dump(parsed: ParsedDockerfile) -> str:
    """BuildKit's Node.Dump() format: one line per instruction, ending with a newline."""
    return "".join(f"({_dump_instruction(instruction)})\n" for instruction in parsed.instructions)


def _dump_instruction(instruction: Instruction) -> str:
    parts = [instruction.keyword]
    if instruction.flags:
        parts.append("[" + " ".join(go_quote(flag) for flag in instruction.flags) + "]")
    if instruction.nested is not None:
        parts.append(f"({_dump_instruction(instruction.nested)})")
    else:
        parts.extend(go_quote(argument) for argument in instruction.args)
    return " ".join(parts).strip(GO_SPACE)


# --- reading the lines -------------------------------------------------------------------------------

# Go's \s is ASCII [\t\n\f\r ]; Python's would take any Unicode space.
_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_DIRECTIVE_NAMES = frozenset({"syntax", "escape", "check"})


@functools.cache
def _heredoc_word_pattern() -> re.Pattern[str]:
    return re.compile(r"([0-9]*)<<(-?)([^<]*)\Z")


@functools.cache
def _quoted_delimiter_pattern() -> re.Pattern[str]:
    return re.compile(r"'([^']+)'|\"([^\"\\$]+)\"")


@functools.cache
def _leading_tabs_pattern() -> re.Pattern[str]:
    return re.compile(r"^\t+", re.MULTILINE)


_HEREDOC_KEYWORDS = frozenset({"run", "copy", "add"})
# The last characters of a line that may continue it (the escape, perhaps before blanks).
_MAYBE_CONTINUED = {"\\": frozenset("\\ \t"), "`": frozenset("` \t")}


def _decode(text: str | bytes, path: str) -> str:
    if isinstance(text, str):
        bad = find_surrogate(text)
        if bad is None:
            return text
        line = text.count("\n", 0, bad.start()) + 1
        raise DockerfileSyntaxError(
            "the Dockerfile holds text that is not valid Unicode; save it as UTF-8",
            SourceLocation(path, line, line),
        )
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as err:
        line = text.count(b"\n", 0, err.start) + 1
        raise DockerfileSyntaxError(
            f"the Dockerfile is not UTF-8 text (byte 0x{text[err.start]:02x} at offset {err.start}); "
            "save it as UTF-8",
            SourceLocation(path, line, line),
        ) from err


def _check_escape(escape: str, location: SourceLocation) -> None:
    if escape not in ("\\", "`"):
        raise DockerfileSyntaxError(f"invalid escape token '{escape}' does not match ` or \\", location)


class _Parser:
    """The state of one parse: escape character, directives, and the comments waiting for an instruction."""

    def __init__(self, path: str, *, escape: str, line_offset: int, directives_allowed: bool) -> None:
        self.path = path
        self.escape = escape
        self.line_offset = line_offset
        self.is_directives_done = not directives_allowed
        self.directives: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        self.empty_continuations: list[int] = []
        self.line_count = 0

    def location(self, line: int, end_line: int | None = None) -> SourceLocation:
        end = line if end_line is None or end_line < line else end_line
        return SourceLocation(self.path, line + self.line_offset, end + self.line_offset)

    def error(self, message: str, line: int, end_line: int | None = None) -> DockerfileSyntaxError:
        return DockerfileSyntaxError(message, self.location(line, end_line))

    def run(self, source: str) -> ParsedDockerfile:
        lines = source.split("\n")
        has_final_newline = lines[-1] == ""
        if has_final_newline:
            lines.pop()  # the text after the last newline is no line
        if lines and lines[0].startswith("\ufeff"):
            lines[0] = lines[0][1:]
        count = len(lines)
        instructions: list[Instruction] = []
        comments: list[str] = []
        path, offset = self.path, self.line_offset
        index = 0  # lines consumed so far: after a line is read, `index` is its 1-based number
        while index < count:
            raw = lines[index]
            index += 1
            token = raw.rstrip("\r").lstrip(GO_SPACE)
            is_comment = token[:1] == "#"
            if is_comment:
                comment = raw[1:].strip(GO_SPACE)
                if comment:
                    comments.append(comment)
                else:
                    comments.clear()  # an empty # line ends the comment block above an instruction
            if not self.is_directives_done and self.read_directive(token, index):
                comments.pop()  # a directive is no comment of the first instruction
            if is_comment or not token:
                continue
            start = index
            if token[-1] in _MAYBE_CONTINUED[self.escape]:
                line, index = self.join_continuation_lines(token, lines, index, start)
            else:
                line = token
            location = SourceLocation(path, start + offset, index + offset)
            instruction = self.node(line, location, tuple(comments) if comments else ())
            comments = []
            if "<<" in line and _can_contain_heredoc(instruction):
                instruction, index = self.read_heredocs(instruction, lines, index, has_final_newline, start)
            instructions.append(instruction)
        self.line_count = count
        return ParsedDockerfile(
            path=self.path,
            instructions=tuple(instructions),
            escape=self.escape,
            directives=tuple(self.directives),
            warnings=tuple(self.warnings),
            empty_continuations=tuple(self.empty_continuations),
        )

    def read_directive(self, token: str, line: int) -> bool:
        """Is this line a parser directive? Directives count only above every other line, once each."""
        match = _DIRECTIVE.match(token)
        name = match[1].lower() if match else ""
        if name not in _DIRECTIVE_NAMES:
            self.is_directives_done = True
            return False
        assert match is not None
        if any(seen == name for seen, _ in self.directives):
            raise self.error(f"only one {name} parser directive can be used", line)
        value = match[2]
        if name == "escape":
            _check_escape(value, self.location(line))
            self.escape = value
        self.directives.append((name, value))
        return True

    def join_continuation_lines(
        self, first: str, lines: list[str], index: int, start: int
    ) -> tuple[str, int]:
        """The instruction starting with `first`, its continuation lines joined; and the lines read."""
        escape = self.escape
        text, is_continued = _trim_continuation(first, escape)
        if not is_continued:
            return text, index
        parts = [text]
        has_empty_line = False
        while is_continued and index < len(lines):
            line = lines[index].rstrip("\r")
            index += 1
            lead = line.lstrip(GO_SPACE)
            if not lead:
                has_empty_line = True
            elif lead[0] != "#":  # comment lines inside a continued instruction are dropped
                stripped = line.rstrip(" \t")
                is_continued = stripped[-1:] == escape and stripped[-2:-1] != escape  # as _trim_continuation
                parts.append(stripped[:-1] if is_continued else line)
        joined = "".join(parts)
        if has_empty_line:
            self.empty_continuations.append(index + self.line_offset)
            self.warnings.append(
                f"{self.location(start, index)}: empty continuation line found in: {joined} "
                "(empty continuation lines will become errors in a future release)"
            )
        return joined, index

    def node(self, line: str, location: SourceLocation, comments: tuple[str, ...] = ()) -> Instruction:
        """BuildKit's newNodeFromLine: keyword, flags, then the keyword's own way to split arguments."""
        written, flags, rest = split_command(line)
        keyword = written.lower()
        if not written:
            raise DockerfileSyntaxError(
                "a line continuation with no instruction: remove the escape character at the end of the line",
                location,
            )
        # An unknown keyword parses (with no arguments, as BuildKit's parseIgnore): the instruction is refused
        # when it is typed (instructions.py), after the build checks have seen the lines before it.
        split = ARGUMENT_PARSERS.get(keyword, no_arguments)
        nested = None
        json_form = False
        try:
            if keyword == "onbuild":
                args, nested = self.trigger(rest, location)
            else:
                args, json_form = split(rest, self.escape)
        except ArgumentError as err:
            raise DockerfileSyntaxError(str(err), location) from None
        return Instruction(keyword, args, flags, json_form, line, (), location, nested, comments)

    def trigger(self, rest: str, location: SourceLocation) -> tuple[tuple[str, ...], Instruction | None]:
        """ONBUILD's instruction, parsed like a line of its own (BuildKit's parseSubCommand)."""
        if not rest:
            return (), None
        # Checked before the trigger is parsed: ONBUILD ONBUILD ... a thousand times would recurse as deep.
        if BLANKS.split(rest, maxsplit=1)[0].lower() == "onbuild":
            raise DockerfileSyntaxError("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", location)
        nested = self.node(rest, location)
        if nested.keyword in ("from", "maintainer"):
            raise DockerfileSyntaxError(
                f"{nested.keyword.upper()} isn't allowed as an ONBUILD trigger", location
            )
        return (rest,), nested

    def read_heredocs(
        self, instruction: Instruction, lines: list[str], index: int, has_final_newline: bool, start: int
    ) -> tuple[Instruction, int]:
        """Read the bodies of the instruction's heredocs, in order, from the lines after it."""
        try:
            markers = _heredoc_markers(instruction.original)
        except ExpansionError as err:
            raise self.error(f"cannot read the heredoc marker: {err.message}", start, index) from None
        heredocs = []
        for marker in markers:
            body: list[str] = []
            is_terminated = False
            while index < len(lines):
                raw = lines[index]
                index += 1
                candidate = raw.rstrip("\r")
                if marker.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == marker.name:
                    is_terminated = True
                    break
                # BuildKit keeps each body line as read, line ending (\r\n too) included.
                body.append(raw + "\n" if index < len(lines) or has_final_newline else raw)
            if not is_terminated:
                raise self.error(
                    f"unterminated heredoc: no line {marker.name!r} ends the heredoc started here",
                    start,
                    index,
                )
            content = "".join(body)
            if marker.chomp:
                content = _leading_tabs_pattern().sub("", content)
            heredocs.append(
                Heredoc(marker.name, content, marker.expand, marker.chomp, marker.file_descriptor)
            )
        location = self.location(start, index)
        found = tuple(heredocs)
        nested = instruction.nested
        if nested is not None:
            nested = msgspec.structs.replace(nested, heredocs=found, location=location)
        # Built anew rather than by structs.replace, which costs as much as parsing the line.
        with_bodies = Instruction(
            instruction.keyword,
            instruction.args,
            instruction.flags,
            instruction.json_form,
            instruction.original,
            found,
            location,
            nested,
            instruction.comments,
        )
        return with_bodies, index


def _trim_continuation(text: str, escape: str) -> tuple[str, bool]:
    """Drop a trailing escape character (and the blanks after it); is the line continued?

    BuildKit's rule: the escape is a continuation unless another escape stands right before it.
    """
    stripped = text.rstrip(" \t")
    if stripped[-1:] == escape and stripped[-2:-1] != escape:
        return stripped[:-1], True
    return text, False


def _can_contain_heredoc(instruction: Instruction) -> bool:
    target = instruction.nested if instruction.nested is not None else instruction
    return target.keyword in _HEREDOC_KEYWORDS and not target.json_form


# --- heredoc markers -------------------------------------------------------------------------------------


def _heredoc_markers(line: str) -> list[Heredoc]:
    """The heredocs a line opens, in order, bodies still empty (BuildKit's heredocsFromLine)."""
    if "\\" in line or "$" in line:
        # BuildKit finds the markers with \ as escape whatever the escape directive says.
        finder = ShellLexer("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
        try:
            words = finder.expand_words(line, {})
        except ExpansionError:
            return []  # the line does not lex as shell words: it opens no heredoc
    else:
        # With no escape and no $, that lexer splits as parseWords does, and fails on an open quote.
        words, open_quote = split_words(line, "\\")
        if open_quote:
            return []
    markers = []
    for word in words:
        match = _heredoc_word_pattern().match(word) if "<<" in word else None
        if match is not None and match[3]:
            marker = _heredoc_marker(match[3], chomp=match[2] == "-", descriptor=match[1])
            if marker is not None:
                markers.append(marker)
    return markers


def _heredoc_marker(delimiter: str, *, chomp: bool, descriptor: str) -> Heredoc | None:
    """The heredoc a delimiter word names; None when it is no single word."""
    file_descriptor = int(descriptor) if descriptor else 0
    if shell_specials_pattern().search(delimiter) is None:
        return Heredoc(delimiter, "", True, chomp, file_descriptor)
    quoted = _quoted_delimiter_pattern().fullmatch(delimiter)
    if quoted is not None:  # <<'EOF' and <<"EOF": what the two lexers below find, found at once
        return Heredoc(quoted[1] or quoted[2], "", False, chomp, file_descriptor)
    words = ShellLexer("\\", skip_unset_env=True).expand_words(delimiter, {})
    if len(words) != 1:
        return None
    raw_words = ShellLexer("\\", raw_quotes=True, skip_unset_env=True).expand_words(delimiter, {})
    # Any quote in the delimiter, even around part of it, turns expansion of the body off.
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw_words[0].count("'") + raw_words[0].count('"')
    return Heredoc(words[0], "", quotes == raw_quotes, chomp, file_descriptor)
