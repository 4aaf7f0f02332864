"""How BuildKit's parser splits one instruction line (its parser/split_command.go and line_parsers.go): the
keyword, the leading --flags, and the arguments, one way per instruction (JSON or shell form, name=value
pairs, words)."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable

from slipway.frontend._golang import GO_SPACE, go_quote, replace_surrogates

__all__ = [
    "ARGUMENT_PARSERS",
    "BLANKS",
    "shell_specials_pattern",
    "ArgumentError",
    "Arguments",
    "no_arguments",
    "split_command",
    "split_words",
]


# --- keyword and flags ---------------------------------------------------------------------------------

# Go's regexp [\t\v\f\r ]+: what separates keyword and arguments (not every Unicode space).
BLANKS = re.compile(r"[\t\v\f\r ]+")
_GO_SPACE_SET = frozenset(GO_SPACE)
_BLANK_RUN = re.compile(f"[{GO_SPACE}]+")
# Flags without quotes or escapes, each with the blanks after it: the common case, taken without the loop.
_PLAIN_FLAGS = re.compile(f"(?:--[^{GO_SPACE}'\"\\\\]*(?:[{GO_SPACE}]+|\\Z))+")


# Characters that make BuildKit's word splitters do more than split at blanks.
@functools.cache
def _quotes_and_escapes_pattern() -> re.Pattern[str]:
    return re.compile("['\"\\\\`]")


@functools.cache
def shell_specials_pattern() -> re.Pattern[str]:
    return re.compile("['\"\\\\$]")


# Runs of characters that BuildKit's parseWords copies as they are: outside quotes, and inside "...".
@functools.cache
def _word_run_patterns(escape: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    return re.compile(f"[^{GO_SPACE}'\"{re.escape(escape)}]+"), re.compile(f'[^"{re.escape(escape)}]+')


@functools.cache
def _single_quoted_run_pattern() -> re.Pattern[str]:
    return re.compile("[^']+")


def split_command(line: str) -> tuple[str, tuple[str, ...], str]:
    """BuildKit's splitCommand: (keyword as written, flags, the rest of the line)."""
    text = line.strip(GO_SPACE)
    blanks = BLANKS.search(text)
    if blanks is None:
        return text, (), ""
    keyword, rest = text[: blanks.start()], text[blanks.end() :]
    flags: tuple[str, ...] = ()
    if rest.startswith("--"):
        rest, flags = _extract_flags(rest)
    return keyword, flags, rest.strip(GO_SPACE)


def _extract_flags(line: str) -> tuple[str, tuple[str, ...]]:
    """BuildKit's extractBuilderFlags: leading --words (quotes and \\ escapes removed); `--` ends them."""
    plain = _PLAIN_FLAGS.match(line)
    if plain is None:
        return _extract_quoted_flags(line)
    flags = _BLANK_RUN.split(plain[0].rstrip(GO_SPACE))
    rest = line[plain.end() :]
    if "--" in flags or rest.startswith("--"):
        return _extract_quoted_flags(line)  # a `--` end marker, or a flag with quotes or escapes
    return rest, tuple(flags)


def _extract_quoted_flags(line: str) -> tuple[str, tuple[str, ...]]:
    """_extract_flags for flags with quotes or escapes in them: BuildKit's loop, character by character."""
    flags: list[str] = []
    word: list[str] = []
    quote = ""
    is_between_words, is_blank_ok = True, False
    length = len(line)
    pos = 0
    while pos < length:
        char = line[pos]
        pos += 1
        if is_between_words:
            if char in _GO_SPACE_SET:
                continue
            if not line.startswith("--", pos - 1):
                return line[pos - 1 :], tuple(flags)
            is_between_words = False
        if quote:
            if char == quote:
                quote = ""
                continue
            if char == "\\":
                if pos == length:
                    quote = ""  # a \ at the very end is dropped
                    continue
                char = line[pos]
                pos += 1
            word.append(char)
        elif char in _GO_SPACE_SET:
            text = "".join(word)
            if text == "--":
                return line[pos - 1 :], tuple(flags)
            flags.append(text)
            word.clear()
            is_between_words, is_blank_ok = True, False
        elif char == "'" or char == '"':
            quote, is_blank_ok = char, True
        elif char == "\\":
            if pos < length:
                word.append(line[pos])
                pos += 1
        else:
            word.append(char)
    text = "".join(word)
    if not is_between_words and text != "--" and (is_blank_ok or text):
        flags.append(text)
    return "", tuple(flags)


# --- arguments, one way per instruction ------------------------------------------------------------------


class ArgumentError(Exception):
    """An instruction's arguments do not parse; the caller adds the location."""


_NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"

Arguments = tuple[tuple[str, ...], bool]  # the argument nodes, and whether they came from JSON


def _go_number(text: str) -> float:
    # Go decodes JSON numbers into float64 and fails (so the shell form is used) when one overflows.
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"number {text} out of range")
    return number


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python's json takes NaN and Infinity; Go's does not


# Decodes JSON as Go's encoding/json does for the values BuildKit accepts.
_GO_JSON = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_go_number, parse_int=_go_number)


def _json_array(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON array; None when `rest` is no JSON array (then it is shell form)."""
    if not rest.startswith("["):  # `rest` starts with no blank: split_command strips it
        return None
    try:
        value = _GO_JSON.decode(rest)
    except RecursionError:
        raise ArgumentError(_NOT_STRING_ARRAY) from None
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise ArgumentError(_NOT_STRING_ARRAY)
    return tuple(replace_surrogates(item) for item in value)


def _maybe_json(rest: str, escape: str) -> Arguments:
    """RUN, CMD, ENTRYPOINT, SHELL: a JSON array, else the rest of the line as one argument."""
    if not rest:
        return (), False
    array = _json_array(rest)
    if array is not None:
        return array, True
    return (rest,), False


def _maybe_json_to_list(rest: str, escape: str) -> Arguments:
    """ADD, COPY, VOLUME: a JSON array, else the words between blanks."""
    array = _json_array(rest)
    if array is not None:
        return array, True
    return _blank_delimited(rest, escape)


def _blank_delimited(rest: str, escape: str) -> Arguments:
    """FROM, EXPOSE: the words between blanks, quotes not considered."""
    if not rest:
        return (), False
    return tuple(BLANKS.split(rest)), False


def _whole(rest: str, escape: str) -> Arguments:
    """MAINTAINER, STOPSIGNAL, USER, WORKDIR: the rest of the line as one argument."""
    return ((rest,) if rest else ()), False


def _words(rest: str, escape: str) -> list[str]:
    """BuildKit's parseWords: split on blanks outside quotes; quotes and escapes are kept in the words."""
    return split_words(rest, escape)[0]


def split_words(rest: str, escape: str) -> tuple[list[str], str]:
    """_words, and the quote character still open at the end ("" when none is)."""
    if _quotes_and_escapes_pattern().search(rest) is None:
        return _BLANK_RUN.split(rest) if rest else [], ""
    return _quoted_words(rest, escape)


def _quoted_words(rest: str, escape: str) -> tuple[list[str], str]:
    """split_words for text with quotes or escapes: BuildKit's loop, plain runs taken whole."""
    outside, inside_double = _word_run_patterns(escape)
    words: list[str] = []
    word: list[str] = []
    quote = ""
    is_in_word = is_blank_ok = False
    length = len(rest)
    pos = 0
    while pos < length:
        pattern = inside_double if quote == '"' else _single_quoted_run_pattern() if quote else outside
        run = pattern.match(rest, pos)
        if run is not None:
            word.append(run[0])
            is_in_word = True
            pos = run.end()
            continue
        char = rest[pos]
        pos += 1
        if quote and char == quote:
            quote = ""
            word.append(char)
        elif not quote and char in _GO_SPACE_SET:
            if is_in_word and (is_blank_ok or word):
                words.append("".join(word))
            word.clear()
            is_in_word = is_blank_ok = False
        elif char == "'" or char == '"':  # opens a quote; quotes stay in the word
            quote, is_in_word, is_blank_ok = char, True, True
            word.append(char)
        elif pos == length:  # the escape character at the very end is dropped
            quote = ""
            is_in_word = True
        else:  # the escape character and what it escapes stay in the word
            word.append(char + rest[pos])
            is_in_word = True
            pos += 1
    if is_in_word and (is_blank_ok or word):
        words.append("".join(word))
    return words, quote


def _name_values(keyword: str) -> Callable[[str, str], Arguments]:
    def split(rest: str, escape: str) -> Arguments:
        """ENV, LABEL: name=value pairs, or the legacy `name value` form; three nodes a pair."""
        words = _words(rest, escape)
        if not words:
            return (), False
        if "=" not in words[0]:
            parts = BLANKS.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise ArgumentError(f"{keyword} must have two arguments: {keyword} name=value")
            return (parts[0], parts[1], ""), False
        args: list[str] = []
        for word in words:
            name, is_assignment, value = word.partition("=")
            if not is_assignment:
                raise ArgumentError(
                    f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value"
                )
            args += (name, value, "=")
        return tuple(args), False

    return split


def _names_or_name_values(rest: str, escape: str) -> Arguments:
    """ARG: the words, each `name` or `name=value`."""
    return tuple(_words(rest, escape)), False


def no_arguments(rest: str, escape: str) -> Arguments:
    """An unknown instruction: its arguments are not read (BuildKit's parseIgnore)."""
    return (), False


def _health_config(rest: str, escape: str) -> Arguments:
    """HEALTHCHECK: the type (CMD, NONE) then the command as for CMD."""
    end = 0
    while end < len(rest) and rest[end] not in _GO_SPACE_SET:
        end += 1
    if end == 0:
        return (), False
    command, json_form = _maybe_json(rest[end:].lstrip(GO_SPACE), escape)
    return (rest[:end], *command), json_form


ARGUMENT_PARSERS: dict[str, Callable[[str, str], Arguments]] = {
    "add": _maybe_json_to_list,
    "arg": _names_or_name_values,
    "cmd": _maybe_json,
    "copy": _maybe_json_to_list,
    "entrypoint": _maybe_json,
    "env": _name_values("ENV"),
    "expose": _blank_delimited,
    "from": _blank_delimited,
    "healthcheck": _health_config,
    "label": _name_values("LABEL"),
    "maintainer": _whole,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _whole,
    "user": _whole,
    "volume": _maybe_json_to_list,
    "workdir": _whole,
}
