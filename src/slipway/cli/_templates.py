"""`--format` as the docker CLI takes it: `table`, `json`, or a Go template subset, and Go's tabwriter.

The subset covers what people write on docker command lines: `{{.Field.Sub}}`, `{{json .X}}`,
`{{index .X "key"}}`, `{{join .X ","}}`, `{{upper .X}}`, `{{lower .X}}`, with `\\t` and `\\n` escapes and the
`table` prefix (a header row, columns aligned as tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) does).
Values print as Go's fmt prints decoded JSON: lists "[a b]", maps "map[k:v]", null "<nil>", a missing
key "<no value>".
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slipway.errors import UsageError

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_MIN_WIDTH = 10
_PADDING = 3


class _Missing:
    def __str__(self) -> str:
        return "<no value>"


MISSING = _Missing()


@dataclass(frozen=True, slots=True)
class Action:
    function: str | None  # None: print the value
    path: tuple[str, ...]  # (".Config", "Env") as ("Config", "Env"); () for "." itself
    arguments: tuple[str, ...]  # literal arguments after the path (index keys, join separator)


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    parts: tuple[str | Action, ...]

    def render(self, value: object) -> str:
        return "".join(part if isinstance(part, str) else self._evaluate(part, value) for part in self.parts)

    def _evaluate(self, action: Action, value: object) -> str:
        for name in action.path:
            if isinstance(value, Mapping):
                value = value.get(name, MISSING)
            else:
                raise UsageError(
                    f"--format {self.source!r}: can't evaluate field {name} in {go_text(value)!r}"
                )
        match action.function:
            case None:
                return go_text(value)
            case "json":
                return go_json(None if value is MISSING else value)
            case "index":
                for key in action.arguments:
                    value = _index(self.source, value, key)
                return go_text(value)
            case "join":
                separator = action.arguments[0] if action.arguments else ""
                items = value if isinstance(value, list | tuple) else []
                return separator.join(go_text(item) for item in items)
            case "upper":
                return go_text(value).upper()
            case "lower":
                return go_text(value).lower()
        raise UsageError(f"--format {self.source!r}: function {action.function!r} is not defined")


def _index(source: str, value: object, key: str) -> object:
    if isinstance(value, Mapping):
        return value.get(key, MISSING)
    if isinstance(value, list | tuple) and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    raise UsageError(f"--format {source!r}: can't index {go_text(value)!r} with {key!r}")


def parse_template(text: str) -> Template:
    parts: list[str | Action] = []
    position = 0
    for match in _ACTION.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(_parse_action(text, match.group(1)))
        position = match.end()
    if "{{" in text[position:]:
        raise UsageError(f"--format {text!r}: unclosed action '{{{{'")
    if position < len(text):
        parts.append(text[position:])
    return Template(source=text, parts=tuple(parts))


def _parse_action(source: str, action: str) -> Action:
    try:
        words = shlex.split(action)
    except ValueError as err:
        raise UsageError(f"--format {source!r}: {err}") from err
    function = None
    if words and not words[0].startswith("."):
        function, words = words[0], words[1:]
    if not words or not words[0].startswith("."):
        raise UsageError(f"--format {source!r}: {{{{{action}}}}} needs a field such as .ID")
    path = tuple(name for name in words[0].split(".") if name)
    return Action(function=function, path=path, arguments=tuple(words[1:]))


def go_text(value: object) -> str:
    """A value as Go's fmt %v prints what encoding/json decoded."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_text(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{key}:{go_text(value[key])}" for key in sorted(value)) + "]"
    return str(value)


def go_json(value: object, indent: int | None = None) -> str:
    """JSON as Go's encoding/json writes it: compact (or indented), '<', '>' and '&' escaped."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def tabulate(lines: Sequence[str]) -> str:
    """Align tab-separated cells like Go's tabwriter (minwidth 10, padding 3); the last cell is not padded."""
    rows = [line.split("\t") for line in lines]
    widths: list[int] = []
    for cells in rows:
        for column, cell in enumerate(cells[:-1]):
            if column == len(widths):
                widths.append(_MIN_WIDTH)
            widths[column] = max(widths[column], len(cell) + _PADDING)
    out = []
    for cells in rows:
        padded = [cell.ljust(widths[column]) for column, cell in enumerate(cells[:-1])]
        out.append("".join(padded) + cells[-1])
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """A parsed --format: a table with header, one JSON object per line, or a template per item."""

    kind: str  # "table", "json" or "template"
    template: Template | None

    def render(self, items: Sequence[Mapping[str, object]], headers: Mapping[str, str]) -> str:
        if self.kind == "json":
            return "\n".join(go_json(dict(item)) for item in items)
        assert self.template is not None
        lines = [self.template.render(item) for item in items]
        if self.kind == "table":
            header = self.template.render(
                {key: headers.get(key, key.upper()) for key in _fields(self.template)}
            )
            return tabulate([header, *lines])
        return "\n".join(lines)


def _fields(template: Template) -> list[str]:
    return [part.path[0] for part in template.parts if isinstance(part, Action) and part.path]


def parse_format(text: str | None, default: str) -> OutputFormat:
    """`text` as --format gives it; `default` is the command's table template (used when text is None)."""
    chosen = default if text is None or text == "table" else text
    if chosen.strip() == "json":
        return OutputFormat(kind="json", template=None)
    kind = "template"
    if chosen.startswith("table"):
        kind, chosen = "table", chosen[len("table") :]
    chosen = chosen.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return OutputFormat(kind=kind, template=parse_template(chosen))
