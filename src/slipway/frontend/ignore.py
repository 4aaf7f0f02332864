""".dockerignore: read the file, match context paths against its patterns as Docker does.

The rules are moby's (`patternmatcher` and `ignorefile.ReadAll`, which BuildKit and the docker CLI use):

- each pattern is Go's `filepath.Match` syntax (`*` and `?` never match `/`; `[...]` classes with ranges and
  `^` negation; `\\` escapes the next character) plus `**`, which matches any number of path segments;
- a `!` pattern is an exception that re-includes what an earlier pattern excluded; the last pattern that
  matches a path decides;
- a pattern that matches a directory excludes everything below it (unless a later exception matches).

Patterns are translated to regular expressions once, when the matcher is made, in the same four shapes
as moby (exact, prefix, suffix, regexp), so the corner cases agree with `docker build`; the
`filepath.Match` part (wildcards, classes, escapes) is slipway._pathmatch's, shared with COPY and image filters. Go runs them on
RE2, in linear time; Python's backtracking `re` takes time exponential in the wildcards (`*a*a*a*a*b`
against a long name), so a pattern with several wildcards that could backtrack into one another is
compiled by RE2 (google-re2) too, and only the simple ones, the common case, by `re`, which is faster
to call. Three deliberate
differences, each where moby's regexp translation departs from `filepath.Match` (which it means to follow):
characters inside `[...]` are read as a class, never as wildcards; `\\x` always means the character x (RE2
reads `\\d` as a digit class); and `^` outside a class is a literal. A pattern moby would reject only while
matching (a reversed range such as `[z-a]`) is rejected here when the matcher is made.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Protocol, cast

import msgspec
from msgspec.structs import force_setattr

from slipway._pathmatch import BadPattern, translate, translate_class, translate_escape
from slipway.errors import ContextError
from slipway.frontend._golang import GO_SPACE, replace_surrogates

__all__ = ["IgnoreMatcher", "find_ignore_file", "read_ignore_file"]


def read_ignore_file(text: str) -> tuple[str, ...]:
    """The patterns of a .dockerignore file, as Docker's `ignorefile.ReadAll` returns them.

    Lines starting with `#` are comments (only in the first column: `  # x` is a pattern), blank lines
    are skipped, patterns are trimmed, cleaned like Go's `filepath.Clean` and made relative to the context
    (a leading `/` is dropped); an exception keeps its `!`. A lone `!` is kept: the matcher rejects it.
    """
    patterns = []
    for number, line in enumerate(_scan_lines(text)):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip(GO_SPACE)
        if not pattern:
            continue
        is_exception = pattern.startswith("!")
        if is_exception:
            pattern = pattern[1:].strip(GO_SPACE)
        if pattern:
            pattern = clean_path(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if is_exception else pattern)
    return tuple(patterns)


def _scan_lines(text: str) -> list[str]:
    # bufio.ScanLines: split at "\n", drop one trailing "\r" per line, no empty line after a final "\n".
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def clean_path(path: str) -> str:
    """Go's `path.Clean`: one slash between names, no `.`, `..` folded where it can be; "" is "."."""
    is_rooted = path.startswith("/")
    names: list[str] = []
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name != "..":
            names.append(name)
        elif names and names[-1] != "..":
            names.pop()
        elif not is_rooted:
            names.append("..")
    joined = "/".join(names)
    if is_rooted:
        return "/" + joined
    return joined or "."


def find_ignore_file(context: Path, dockerfile: Path) -> Path | None:
    """The ignore file that applies to a build: `<Dockerfile name>.dockerignore` beside the Dockerfile
    wins over `<context>/.dockerignore` (BuildKit's rule); None when neither exists."""
    beside = dockerfile.parent / f"{dockerfile.name}.dockerignore"
    if beside.is_file():
        return beside
    default = context / ".dockerignore"
    if default.is_file():
        return default
    return None


class _Shape(Enum):
    EXACT = "exact"  # no wildcard: the path equals the pattern
    PREFIX = "prefix"  # "dir/**": the path starts with "dir/"
    SUFFIX = "suffix"  # "**/name", "**name": the path ends with the rest
    REGEXP = "regexp"


class _Pattern(msgspec.Struct, frozen=True):
    text: str  # cleaned, without its "!"
    is_exception: bool
    shape: _Shape
    regexp: _Regexp | None
    # One regexp per "/"-separated segment (None for a segment holding "**"), or None when a class or an
    # escape could match "/" and the segments cannot be told apart: what can_skip_dir reasons with.
    segments: tuple[_Regexp | None, ...] | None

    def matches(self, path: str) -> bool:
        match self.shape:
            case _Shape.EXACT:
                return path == self.text
            case _Shape.PREFIX:
                return path.startswith(self.text[:-2])
            case _Shape.SUFFIX:
                suffix = self.text[2:]
                return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
            case _Shape.REGEXP:
                assert self.regexp is not None
                return self.regexp.fullmatch(_matchable(path)) is not None

    def may_match_below(self, directory: tuple[str, ...]) -> bool:
        """Whether some path strictly inside `directory` (split in segments) could match."""
        if self.segments is None:
            return True
        for depth, segment in enumerate(self.segments):
            if depth == len(directory) or segment is None:
                return True
            if segment.fullmatch(_matchable(directory[depth])) is None:
                return False
        # As many segments as the directory or fewer, none "**": it matches the directory or a parent.
        return False


class IgnoreMatcher(msgspec.Struct, frozen=True):
    """Matches paths of a build context against .dockerignore patterns (as `read_ignore_file` returns
    them). Paths are relative to the context root, "/"-separated; `matches` is True for an excluded path.
    Immutable, so one matcher may be shared by threads. A bad pattern raises ContextError here."""

    patterns: tuple[str, ...]
    _compiled: tuple[_Pattern, ...] = ()  # derived from `patterns` when made: whatever is passed is replaced

    def __post_init__(self) -> None:
        force_setattr(self, "patterns", tuple(self.patterns))
        force_setattr(self, "_compiled", _compile_patterns(self.patterns))

    def matches(self, path: str) -> bool:
        """True when `path` is excluded: the last pattern that matches it or one of its parent
        directories decides (moby's MatchesOrParentMatches). The context root itself is never excluded."""
        path = clean_path(path).lstrip("/")
        if path in (".", ""):
            return False
        parents = _parents(path)
        is_excluded = False
        for pattern in self._compiled:
            # An exception can only change an excluded path and an exclusion only an included one.
            if pattern.is_exception != is_excluded:
                continue
            if pattern.matches(path) or any(pattern.matches(parent) for parent in parents):
                is_excluded = not pattern.is_exception
        return is_excluded

    def can_skip_dir(self, path: str) -> bool:
        """True when the directory `path` is excluded and no exception can re-include anything below it,
        so a walker may skip it without listing it: every path below is then excluded too."""
        if not self.matches(path):
            return False
        directory = tuple(clean_path(path).lstrip("/").split("/"))
        return not any(
            pattern.may_match_below(directory) for pattern in self._compiled if pattern.is_exception
        )


def _parents(path: str) -> list[str]:
    """The parent directories of a path, outermost first: a/b/c has a and a/b."""
    names = path.split("/")[:-1]
    return ["/".join(names[: count + 1]) for count in range(len(names))]


def _compile_patterns(patterns: tuple[str, ...]) -> tuple[_Pattern, ...]:
    compiled = []
    for raw in patterns:
        # patternmatcher.New: trim, skip empty, clean, then take the "!" off.
        text = raw.strip(GO_SPACE)
        if not text:
            continue
        text = clean_path(text)
        is_exception = text.startswith("!")
        if is_exception:
            if len(text) == 1:
                raise ContextError(
                    '.dockerignore pattern "!" excepts nothing: write the path to re-include after the "!"'
                )
            text = text[1:]
        try:
            compiled.append(_compile(text, is_exception))
        except BadPattern as err:
            raise ContextError(
                f".dockerignore pattern {raw.strip(GO_SPACE)!r} is invalid: {err}; "
                "escape a literal '[', '*', '?' or '\\' with a backslash"
            ) from None
    return tuple(compiled)


def _compile(text: str, is_exception: bool) -> _Pattern:
    """Translate like moby's Pattern.compile: scan the pattern once, noting its shape as it goes."""
    parts: list[str] = []
    shape = _Shape.EXACT
    crosses_slash = False
    position = 0
    first = True
    spans = 0  # wildcards that match across "/" (from "**")
    stars = [0]  # wildcards of each "/"-separated segment of the pattern (from "*")
    while position < len(text):
        char = text[position]
        position += 1
        if char == "*" and text.startswith("*", position):
            part, position, shape = _double_star(text, position, shape, first)
            parts.append(part)
            spans += 1
        elif char == "*":
            parts.append("[^/]*")
            shape = _Shape.REGEXP
            stars[-1] += 1
        elif char == "?":
            parts.append("[^/]")
            shape = _Shape.REGEXP
        elif char == "\\":
            crosses_slash = crosses_slash or text.startswith("/", position)
            escaped, position = translate_escape(text, position)
            parts.append(escaped)
            shape = _Shape.REGEXP
        elif char == "[":
            class_regexp, position, may_match_slash = translate_class(text, position)
            parts.append(class_regexp)
            crosses_slash = crosses_slash or may_match_slash
            shape = _Shape.REGEXP
        else:
            parts.append(re.escape(char))
            if char == "]":
                shape = _Shape.REGEXP
            if char == "/":
                stars.append(0)
        first = False
    # One spanning wildcard tries each "/" once; two stars in a segment try its (at most 255) characters
    # in pairs: bounded. Beyond that a backtracking engine may take exponential time: RE2's is linear.
    is_linear = spans <= 1 and max(stars) <= 2
    regexp = _regexp("".join(parts), is_linear) if shape == _Shape.REGEXP else None
    segments = None if crosses_slash else tuple(_segment_regexp(segment) for segment in text.split("/"))
    return _Pattern(text, is_exception, shape, regexp, segments)


def _double_star(text: str, position: int, shape: _Shape, first: bool) -> tuple[str, int, _Shape]:
    """A "**" whose second "*" is at `position`: its regexp, the position after it, the pattern's shape."""
    position += 1
    if text.startswith("/", position):
        position += 1  # "**/" is "**"
    if position == len(text) and shape == _Shape.EXACT:
        part, shape = "", _Shape.PREFIX  # a final "**" accepts everything below, like .gitignore
    elif position == len(text):
        part, shape = ".*", _Shape.REGEXP
    else:
        part, shape = "(?:.*/)?", _Shape.REGEXP  # any number of segments, none too
    return part, position, _Shape.SUFFIX if first else shape


class _Regexp(Protocol):
    def fullmatch(self, text: str) -> object | None: ...


def _regexp(pattern: str, is_linear: bool) -> _Regexp:
    if is_linear:
        return re.compile(pattern, re.DOTALL)
    import re2  # only for patterns with several wildcards

    options = re2.Options()
    options.log_errors = False
    options.dot_nl = True
    try:
        return cast(_Regexp, re2.compile(_matchable(pattern), options))
    except re2.error:
        raise BadPattern("it is too large to match with") from None


def _matchable(text: str) -> str:
    """`text` as RE2 can take it: a lone surrogate (a byte that was not UTF-8) as U+FFFD, as Go reads it."""
    return replace_surrogates(text)


def _segment_regexp(segment: str) -> _Regexp | None:
    """A segment alone, as path.Match reads it (None if it holds "**"); only for patterns whose
    classes and escapes cannot match "/", so each segment is a whole pattern."""
    if "**" in segment:
        return None
    return _regexp(translate(segment), is_linear=segment.count("*") <= 2)
