"""Word expansion ($VAR, ${VAR:-default}, quotes, escapes) by BuildKit's `frontend/dockerfile/shell` rules.

Not a shell: no command substitution, no globbing of file names, no arithmetic. A word is scanned once,
left to right; `${...}` forms recurse into the same scan for their argument word.

A Dockerfile is hostile input, so expansion is bounded where BuildKit's is not: `${...}` nest at most
MAX_NESTING deep, and a lexer's expansions together produce at most MAX_EXPANDED_CHARACTERS characters (each
variable's value counted where it is used, at every level), so `ENV b=$a$a$a...` repeated over lines cannot
double a value into gigabytes. Patterns (`${a#*.}`, `${a/x/y}`) run on RE2, in time linear in the value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Protocol, cast

from slipway.errors import ExpansionError
from slipway.frontend._golang import GO_SPACE, go_quote, replace_surrogates

__all__ = ["MAX_EXPANDED_CHARACTERS", "MAX_NESTING", "ExpansionBudget", "ShellLexer"]

# ${...} inside ${...}: real Dockerfiles nest two or three deep; each level costs a few Python frames.
MAX_NESTING = 100
# What the expansions of one lexer (one build's Dockerfile) may produce in all: far more than any image
# config or command line holds, far less than the memory a value doubled on every line would take.
MAX_EXPANDED_CHARACTERS = 128 * 1024 * 1024

_GO_SPACE_SET = frozenset(GO_SPACE)


@functools.cache
def _space_run_pattern() -> re.Pattern[str]:
    return re.compile(f"[{GO_SPACE}]+")


@functools.cache
def _space_run_split_pattern() -> re.Pattern[str]:
    return re.compile(f"([{GO_SPACE}]+)")


# Per escape and stop character: runs of characters with no meaning to the scan, copied whole.
@functools.cache
def _plain_run_pattern(escape: str, stop: str | None) -> re.Pattern[str]:
    return re.compile("[^$'\"" + re.escape(escape + (stop or "")) + "]+")


# POSIX special parameters: a one-character name after `$`.
_SPECIAL_PARAMETERS = frozenset("@*#?-$!0")

# Pattern characters that are regular-expression syntax and must be matched literally.
_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


class ExpansionBudget:
    """The characters expansions may still produce; lexers that share one share the bound."""

    __slots__ = ("remaining",)

    def __init__(self, limit: int = MAX_EXPANDED_CHARACTERS) -> None:
        self.remaining = limit

    def spend(self, count: int) -> None:
        self.remaining -= count
        if self.remaining < 0:
            raise _LexError(
                f"the Dockerfile's variables expand to more than {MAX_EXPANDED_CHARACTERS // 2**20} MiB of "
                "text in all: a value is repeated too many times"
            )


class ShellLexer:
    """Expands words the way BuildKit expands ARG/ENV references in Dockerfile instructions.

    raw_quotes, raw_escapes and skip_unset_env are BuildKit's Lex options (RawQuotes, RawEscapes,
    SkipUnsetEnv): the parser uses them to find heredoc markers without changing the words. `budget`
    bounds what this lexer's expansions produce in all (a fresh one when none is given).
    """

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset_env: bool = False,
        budget: ExpansionBudget | None = None,
    ) -> None:
        if escape not in ("\\", "`"):
            raise ValueError(f"the escape character is \\ or `, not {escape!r}")
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env
        self.budget = budget if budget is not None else ExpansionBudget()

    def expand_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand one word; ExpansionError (no location) when it cannot be expanded."""
        return self._process(word, env, split=False)[0]

    def expand_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand and split into words on unquoted white space, as for the exec form."""
        return self._process(word, env, split=True)[1]

    def expand_with_matches(self, word: str, env: Mapping[str, str]) -> tuple[str, frozenset[str]]:
        """The expansion and the names of the variables it used that `env` holds (ProcessWordWithMatches)."""
        result, _, matches = self._process(word, env, split=False)
        return result, frozenset(matches)

    def expand_reporting(
        self, word: str, env: Mapping[str, str]
    ) -> tuple[str, frozenset[str], frozenset[str]]:
        """The expansion, the names it used that `env` holds, and the names it looked for that `env` does
        not hold (BuildKit's Matched and Unmatched: what build checks report as undefined)."""
        scan = self._scan(word, env, split=False)
        return scan.result, frozenset(scan.matches), frozenset(scan.unmatched)

    def _process(self, word: str, env: Mapping[str, str], *, split: bool) -> tuple[str, list[str], set[str]]:
        scan = self._scan(word, env, split=split)
        return scan.result, scan.words, scan.matches

    def _scan(self, word: str, env: Mapping[str, str], *, split: bool) -> _Scan:
        scan = _Scan(self, word, env)
        try:
            scan.result, scan.words = scan.process_until(None, self.raw_escapes, split=split)
        except _LexError as err:
            raise ExpansionError(f"failed to process {go_quote(word)}: {err}") from None
        return scan


class _LexError(Exception):
    """An expansion failure inside the scan; ShellLexer adds the word to the message."""


class _Words:
    """BuildKit's wordsStruct: collects the words of an expansion, splitting on unquoted white space."""

    __slots__ = ("current", "words", "in_word")

    def __init__(self) -> None:
        self.current: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, char: str) -> None:
        if char in _GO_SPACE_SET:
            # A space inside a word that is still empty (after "") does not end it: BuildKit's rule.
            if self.in_word and self.current:
                self.words.append("".join(self.current))
                self.current = []
                self.in_word = False
        else:
            self.add_raw(char)

    def add_string(self, text: str) -> None:
        if _space_run_pattern().search(text) is None:
            if text:
                self.add_raw(text)
            return
        # Blanks and non-blanks alternate; a run of blanks acts as one blank would.
        for index, piece in enumerate(_space_run_split_pattern().split(text)):
            if index % 2:
                self.add_char(" ")
            elif piece:
                self.add_raw(piece)

    def add_raw(self, text: str) -> None:
        if text:  # `current` holds no empty pieces, so it is true exactly when the word has content
            self.current.append(text)
        self.in_word = True

    def finish(self) -> list[str]:
        word = "".join(self.current)
        if word:
            self.words.append(word)
        self.current = []
        self.in_word = False
        return self.words


class _Unsplit(_Words):
    """For an expansion whose words nobody asked for: splitting a long value costs more than expanding it."""

    __slots__ = ()

    def add_char(self, char: str) -> None:
        pass

    def add_string(self, text: str) -> None:
        pass

    def add_raw(self, text: str) -> None:
        pass


class _Scan:
    """One pass over one word: a cursor, the environment, and the names looked up so far."""

    def __init__(self, lexer: ShellLexer, text: str, env: Mapping[str, str]) -> None:
        self.lexer = lexer
        self.escape = lexer.escape
        self.raw_escapes = lexer.raw_escapes
        self.text = text
        # Go's text/scanner drops a byte order mark at the very start of its input.
        self.pos = 1 if text.startswith("\ufeff") else 0
        self.env = env
        self.matches: set[str] = set()
        self.budget = lexer.budget
        self.depth = -1  # how many ${...} enclose the word being scanned (the whole word: none)
        self.unmatched: set[str] = set()
        self.result = ""
        self.words: list[str] = []

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        char = self.peek()
        if char:
            self.pos += 1
        return char

    def process_until(
        self, stop: str | None, raw_escapes: bool, *, split: bool = False
    ) -> tuple[str, list[str]]:
        """Scan to `stop` (consumed) or, when stop is None, to the end; the text and its words."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _LexError(f"${{...}} nested more than {MAX_NESTING} levels deep")
            return self._process_until(stop, _Words() if split else _Unsplit())
        finally:
            self.raw_escapes = saved
            self.depth -= 1

    def process_to(self, stop: str, raw_escapes: bool, missing: str) -> str:
        """The text up to `stop` (consumed); a word that ends first is a syntax error naming `missing`."""
        try:
            text, _ = self.process_until(stop, raw_escapes)
        except _LexError:
            if not self.peek():
                raise _LexError(f"syntax error: missing {missing}") from None
            raise
        return text

    def _process_until(self, stop: str | None, words: _Words) -> tuple[str, list[str]]:
        result: list[str] = []
        text, escape = self.text, self.escape
        plain = _plain_run_pattern(escape, stop)
        while self.pos < len(text):
            run = plain.match(text, self.pos)
            if run is not None:
                result.append(run[0])
                words.add_string(run[0])
                self.pos = run.end()
                continue
            char = text[self.pos]
            if char == stop:
                self.pos += 1
                return "".join(result), words.finish()
            if char == "$":
                value = self.dollar()
                self.budget.spend(len(value))
                result.append(value)
                words.add_string(value)  # expanded values are split into words, quoted ones are not
                continue
            if char == "'" or char == '"':
                value = self.single_quote() if char == "'" else self.double_quote()
                result.append(value)
                words.add_raw(value)
                continue
            self.pos += 1
            if char == escape:
                if self.raw_escapes:
                    words.add_raw(char)
                    result.append(char)
                if self.pos >= len(text):
                    break  # an escape at the end of the word is dropped
                char = text[self.pos]
                self.pos += 1
                words.add_raw(char)
            else:
                words.add_char(char)
            result.append(char)
        if stop is not None:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def single_quote(self) -> str:
        # Everything up to the next ' is literal: not even the escape character escapes it.
        raw = self.lexer.raw_quotes
        self.pos += 1
        end = self.text.find("'", self.pos)
        if end < 0:
            raise _LexError("unexpected end of statement while looking for matching single-quote")
        body = self.text[self.pos : end]
        self.pos = end + 1
        return f"'{body}'" if raw else body

    def double_quote(self) -> str:
        # Literal except $, and the escape character before " $ or itself (sh's rule, escape char for \).
        raw = self.lexer.raw_quotes
        result = ['"'] if raw else []
        self.pos += 1
        escape = self.escape
        while True:
            char = self.peek()
            if not char:
                raise _LexError("unexpected end of statement while looking for matching double-quote")
            if char == '"':
                self.pos += 1
                if raw:
                    result.append(char)
                return "".join(result)
            if char == "$":
                value = self.dollar()
                self.budget.spend(len(value))
                result.append(value)
                continue
            self.pos += 1
            if char == escape:
                if self.raw_escapes:
                    result.append(char)
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", escape):
                    char = following
                    self.pos += 1
            result.append(char)

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matches.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def name(self) -> str:
        """A variable name: letters, digits and _; or all the digits of a positional; or one special."""
        text, start = self.text, self.pos
        if start >= len(text):
            return ""
        first = text[start]
        if first.isdecimal():
            end = start
            while end < len(text) and text[end].isdecimal():
                end += 1
            self.pos = end
            return text[start:end]
        if first in _SPECIAL_PARAMETERS:
            self.pos += 1
            return first
        end = start
        while end < len(text) and (text[end].isalpha() or text[end].isdecimal() or text[end] == "_"):
            end += 1
        self.pos = end
        return text[start:end]

    def dollar(self) -> str:
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.lexer.skip_unset_env:
                return "$" + name
            return value
        self.pos += 1
        char = self.peek()
        if not char:
            raise _LexError("syntax error: missing '}'")
        if char in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self.name()
        modifier = self.next()
        if modifier == "}":
            value, found = self.lookup(name)
            if not found and self.lexer.skip_unset_env:
                return "${" + name + "}"
            return value
        if modifier == ":" or modifier in ("+", "-", "?", "#", "%"):
            return self.modified(name, modifier)
        if modifier == "/":
            return self.replaced(name)
        if not modifier:
            raise _LexError("syntax error: missing '}'")
        raise _LexError(f"unsupported modifier ({modifier}) in substitution")

    def modified(self, name: str, modifier: str) -> str:
        """${name:-word} ${name-word} ${name:+word} ${name+word} ${name:?word} ${name?word} ${name#word} ..."""
        null_is_unset = modifier == ":"
        if null_is_unset:
            modifier += self.next()
        operator = modifier[-1]
        is_pattern = operator in ("#", "%")
        if null_is_unset and is_pattern:
            raise _LexError(f"unsupported modifier ({modifier}) in substitution")
        # A pattern keeps its escapes: they decide which * and ? are literal.
        word = self.process_to("}", is_pattern, "'}'")
        value, found = self.lookup(name)
        if self.lexer.skip_unset_env and not found:
            return "${" + name + modifier + word + "}"
        is_empty = not found or (null_is_unset and value == "")
        if operator == "-":
            return word if is_empty else value
        if operator == "+":
            return "" if is_empty else word
        if operator == "?":
            if not found:
                raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if is_pattern:
            # ${a#p} and ${a%p} remove the shortest match, ${a##p} and ${a%%p} the longest.
            is_greedy = word.startswith(operator)
            if is_greedy:
                word = word[1:]
            if operator == "%":
                return _trim_suffix(word, value, is_greedy)
            return _trim_prefix(word, value, is_greedy)
        raise _LexError(f"unsupported modifier ({modifier or 'end of word'}) in substitution")

    def replaced(self, name: str) -> str:
        """${name/pattern/replacement} (first match) and ${name//pattern/replacement} (every match)."""
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        pattern = self.process_to("/", True, "'/' in ${}")
        replacement = self.process_to("}", True, "'}'")
        value, found = self.lookup(name)
        if self.lexer.skip_unset_env and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return self.replace_all(regex, value, replacement)
        match = regex.search(_matchable(value))
        if match is None:
            return value
        start, end = match.span()
        self.budget.spend(len(value) + len(replacement))
        return value[:start] + replacement + value[end:]

    def replace_all(self, regex: _Regex, value: str, replacement: str) -> str:
        """Go's ReplaceAllString, which BuildKit uses: $ in the replacement is a group reference, and an
        empty match right after a match is not replaced. Each replacement is paid for before it is made."""
        text = _matchable(value)
        pieces: list[str] = []
        last_end = search = 0
        while search <= len(text):
            match = regex.search(text, search)
            if match is None:
                break
            start, end = match.span()
            pieces.append(value[last_end:start])
            if end > last_end or start == 0:
                parts = _expand_go_template(replacement, value[start:end])
                self.budget.spend(sum(map(len, parts)))
                pieces += parts
            last_end = end
            search = search + 1 if search + 1 > end else end  # always advance, by one character at least
        pieces.append(value[last_end:])
        return "".join(pieces)


class _Match(Protocol):
    def span(self) -> tuple[int, int]: ...

    def end(self) -> int: ...


class _Regex(Protocol):
    def search(self, text: str, pos: int = 0) -> _Match | None: ...


def _matchable(text: str) -> str:
    """`text` as RE2 can take it: a lone surrogate (a byte that was not UTF-8) as U+FFFD, as Go reads it.
    One character for one, so positions stay those of `text`."""
    return replace_surrogates(text)


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> _Regex:
    """A shell pattern (* any string, ? one character, \\ quotes the next) as a regular expression.

    Compiled by RE2, as Go's regexp (which BuildKit uses) would: a backtracking engine takes time exponential
    in the stars of a pattern such as *a*a*a*b, RE2 linear time in the value."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append(star)
        elif char == "?":
            out.append(".")
        elif char == "\\":
            following = pattern[index] if index < len(pattern) else ""
            if following in ("}", "/"):
                continue  # escaped only to end the ${} early, not part of the pattern
            if following not in ("*", "?", "\\"):
                shown = following or "end of pattern"
                raise _LexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{shown}'")
            out.append("\\" + following)
            index += 1
        elif char in _REGEX_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    import re2  # only for the few Dockerfiles that use patterns

    options = re2.Options()
    options.log_errors = False
    try:
        # DOTALL off, as in Go: `.` does not match a newline.
        return cast(_Regex, re2.compile(_matchable("".join(out)), options))
    except re2.error:
        raise _LexError(f"pattern of {len(pattern):,} characters is too large to match with") from None


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy, anchored=True).search(_matchable(value))
    return value[match.end() :] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern but keep each escape before the character it escapes: a\\*c becomes c\\*a."""
    pieces: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\" and index + 1 < len(pattern):
            pieces.append(pattern[index : index + 2])
            index += 2
        else:
            pieces.append(pattern[index])
            index += 1
    return "".join(reversed(pieces))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds the leftmost match only: reverse pattern and value to find the rightmost.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _expand_go_template(template: str, matched: str) -> list[str]:
    """Go's Regexp.Expand, in pieces: $$ is $, $0/${0} the match, any other $name an absent group (empty)."""
    if "$" not in template:
        return [template]
    out: list[str] = []
    index = 0
    while index < len(template):
        char = template[index]
        index += 1
        if char != "$" or index >= len(template):
            out.append(char)
            continue
        if template[index] == "$":
            out.append("$")
            index += 1
            continue
        if template[index] == "{":
            end = template.find("}", index)
            name = template[index + 1 : end] if end > 0 else ""
            if not name or not all(c.isalpha() or c.isdecimal() or c == "_" for c in name):
                out.append("$")
                continue
            index = end + 1
        else:
            end = index
            while end < len(template) and (
                template[end].isalpha() or template[end].isdecimal() or template[end] == "_"
            ):
                end += 1
            if end == index:
                out.append("$")
                continue
            name, index = template[index:end], end
        if name == "0":  # the only group these patterns have; Go refuses leading zeros
            out.append(matched)
    return out
