"""Dockerfile text to a tree of instructions, by BuildKit's `frontend/dockerfile/parser` rules.

The parser knows the syntax only (directives, continuations, heredocs, JSON and shell forms, flags);
what each instruction means is `instructions.py`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from slipway.errors import SourceLocation

__all__ = ["Heredoc", "Instruction", "ParsedDockerfile", "dump", "parse", "parse_instruction_line"]


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str  # the delimiter word, e.g. "EOF"
    content: str  # the body, lines joined with "\n", ending with "\n" (tabs stripped for <<-)
    expand: bool  # False when the delimiter was quoted (<<"EOF" / <<'EOF')
    chomp: bool  # True for <<-


@dataclass(frozen=True, slots=True)
class Instruction:
    """One top-level instruction: a child of BuildKit's root Node."""

    keyword: str  # lower-case: "from", "run", "copy", ...
    args: tuple[str, ...]  # argument nodes in order, split as BuildKit's per-instruction parse functions do
    flags: tuple[str, ...]  # ("--from=0", "--chown=a") as written
    json_form: bool  # args came from a JSON array
    original: str  # the instruction's original text, continuation lines joined (BuildKit's Node.Original)
    heredocs: tuple[Heredoc, ...]
    location: SourceLocation  # start line .. end line (heredoc bodies included)
    nested: Instruction | None = None  # ONBUILD's instruction
    comments: tuple[str, ...] = ()  # comment lines just before it (BuildKit's PrevComment)


@dataclass(frozen=True, slots=True)
class ParsedDockerfile:
    path: str
    instructions: tuple[Instruction, ...]
    escape: str  # "\\" or "`"
    directives: tuple[tuple[str, str], ...]  # (lower-cased name, value) for syntax/escape/check, in order
    warnings: tuple[str, ...] = ()  # e.g. empty continuation lines (BuildKit warns)


def parse(text: str | bytes, path: str = "Dockerfile") -> ParsedDockerfile:
    """Parse a whole Dockerfile; DockerfileSyntaxError names `path` and the line."""
    raise NotImplementedError


def parse_instruction_line(text: str, path: str, line: int, escape: str = "\\") -> Instruction:
    """Parse one instruction (an ONBUILD trigger stored in an image config)."""
    raise NotImplementedError


def dump(parsed: ParsedDockerfile) -> str:
    """BuildKit's Node.Dump() format: one line per instruction, ending with a newline."""
    raise NotImplementedError
