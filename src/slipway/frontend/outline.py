"""What `slipway build --call outline|targets|check` answers: BuildKit's frontend subrequests, as documents.

The shapes are BuildKit's (frontend/subrequests: outline.Outline, targets.List, lint.LintResults), so their
JSON is what `docker buildx build --call ... --format json` prints; the text forms are its printers'. A
location is BuildKit's pb.Location (1-based lines; sourceIndex 0 left out, as Go's omitempty does); a source
is the Dockerfile's bytes (base64 in the JSON).

- targets: the stages, from the parsed Dockerfile alone (no base image is looked at);
- outline: the build arguments, secrets and ssh sockets the target uses, with their values and the comments
  that describe them (`# NAME description` just above the ARG or FROM);
- check: the build checks' warnings and the error that stopped the evaluation, if one did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from typing import NamedTuple, TypeVar

import msgspec

from slipway.errors import ExpansionError, SourceLocation
from slipway.frontend._hooks import ConvertHooks
from slipway.frontend.checks import CheckWarning
from slipway.frontend.instructions import ArgDeclaration
from slipway.frontend.parser import ParsedDockerfile
from slipway.frontend.shell import ShellLexer
from slipway.frontend.stages import Stage, StagedDockerfile
from slipway.graph.ops import BuildGraph, Exec, walk

__all__ = [
    "ArgRecorder",
    "LintResults",
    "Outline",
    "TargetList",
    "doc_comment",
    "format_outline",
    "format_targets",
    "lint_results",
    "list_targets",
    "make_outline",
]


class Position(msgspec.Struct, frozen=True, omit_defaults=True):
    line: int = 0
    character: int = 0


class Range(msgspec.Struct, frozen=True):
    start: Position
    end: Position


class Location(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    source_index: int = 0
    ranges: tuple[Range, ...] = ()


def location_of(location: SourceLocation) -> Location:
    return Location(ranges=(Range(Position(location.line), Position(location.end_line)),))


class Target(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str = ""
    default: bool = False
    description: str = ""
    base: str = ""
    platform: str = ""
    location: Location | None = None


class TargetList(msgspec.Struct, frozen=True):
    targets: tuple[Target, ...]
    sources: tuple[bytes, ...]


class Arg(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str
    description: str = ""
    value: str = ""
    location: Location | None = None


class Secret(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str
    required: bool = False
    location: Location | None = None


_Located = TypeVar("_Located", Arg, Secret)


class Outline(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str = ""
    description: str = ""
    args: tuple[Arg, ...] = ()
    secrets: tuple[Secret, ...] = ()
    ssh: tuple[Secret, ...] = ()
    sources: tuple[bytes, ...] = ()


class LintWarning(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    rule_name: str
    description: str = ""
    url: str = ""
    detail: str = ""
    location: Location | None = None


class BuildError(msgspec.Struct, frozen=True):
    message: str
    location: Location


class SourceInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    filename: str = ""
    data: bytes = b""
    language: str = ""


class LintResults(msgspec.Struct, frozen=True, omit_defaults=True, rename={"error": "buildError"}):
    warnings: tuple[LintWarning, ...] | None
    sources: tuple[SourceInfo, ...]
    error: BuildError | None = None


def doc_comment(comments: Sequence[str], name: str) -> str:
    """BuildKit's getDocComment: the rest of the first comment line that starts with `name` and a blank."""
    if not name:
        return ""
    for line in comments:
        if line.startswith(name + " "):
            return line[len(name) + 1 :]
    return ""


# ---- targets --------------------------------------------------------------------------------------------


def list_targets(parsed: ParsedDockerfile, staged: StagedDockerfile, source: bytes) -> TargetList:
    """BuildKit's ListTargets: every stage, the last one the default, bases and platforms as written."""
    comments = _comments_by_line(parsed)
    targets = tuple(
        Target(
            name=stage.name or "",
            default=stage.index == len(staged.stages) - 1,
            description=doc_comment(comments.get(stage.location.line, ()), stage.name or ""),
            base=stage.source.base,
            platform=stage.source.platform or "",
            location=location_of(stage.location),
        )
        for stage in staged.stages
    )
    return TargetList(targets=targets, sources=(source,))


def format_targets(targets: TargetList) -> str:
    """targets.PrintTargets: a TARGET / DESCRIPTION table, the default target marked."""
    rows = [("TARGET", "DESCRIPTION")]
    for target in targets.targets:
        name = target.name
        if target.default:
            name = f"{name} (default)" if name else "(default)"
        rows.append((name, target.description))
    return _table(rows, padding=1)


# ---- outline --------------------------------------------------------------------------------------------


class _Declared(msgspec.Struct, frozen=True):
    name: str
    value: str
    location: SourceLocation
    deps: frozenset[str] = frozenset()  # of a global ARG: the global ARGs its value was made from
    inherited: bool = False  # `ARG NAME` in a stage taking the global value: the global one is shown


class Scope(NamedTuple):
    """What the converter knows before it dispatches a stage (its stages_split hook)."""

    staged: StagedDockerfile
    scope: Mapping[str, str]  # the global scope, --build-arg values in
    defaults: Mapping[str, str]  # the predefined platform ARGs
    lexer: ShellLexer


class ArgRecorder(ConvertHooks):
    """Hooks that keep the ARGs each dispatched stage declares (BuildKit's outline capture)."""

    def __init__(self, build_args: Mapping[str, str]) -> None:
        self.build_args = build_args
        self.known: Scope | None = None
        self.global_names: frozenset[str] = frozenset()
        self.declared: dict[int, dict[str, _Declared]] = {}

    def stages_split(
        self,
        staged: StagedDockerfile,
        scope: Mapping[str, str],
        defaults: Mapping[str, str],
        lexer: ShellLexer,
    ) -> None:
        self.known = Scope(staged, dict(scope), dict(defaults), lexer)
        self.global_names = frozenset(
            declaration.name for command in staged.global_args for declaration in command.args
        )

    def arg_declared(
        self, stage: int, declaration: ArgDeclaration, value: str | None, location: SourceLocation
    ) -> None:
        name = declaration.name
        stage_args = self.declared.setdefault(stage, {})
        if declaration.default is None and name not in self.build_args and name in self.global_names:
            stage_args.setdefault(name, _Declared(name, "", location, inherited=True))
            return
        stage_args[name] = _Declared(name, value or "", location)


def global_arg_infos(
    staged: StagedDockerfile, defaults: Mapping[str, str], build_args: Mapping[str, str], lexer: ShellLexer
) -> dict[str, _Declared]:
    """BuildKit's buildMetaArgs with what an outline adds: each global ARG's value, its last declaration and
    the ARGs its value was made from."""
    scope = dict(defaults)
    infos: dict[str, _Declared] = {}
    for command in staged.global_args:
        for declaration in command.args:
            name, deps = declaration.name, frozenset[str]()
            value: str | None = build_args.get(name)
            if value is None and declaration.default is not None:
                try:
                    value, deps, _ = lexer.expand_reporting(declaration.default, scope)
                except ExpansionError:
                    value = ""
                if name in deps:  # ARG FOO=${FOO}bar: made from what the earlier FOO was made from
                    previous = infos.get(name)
                    deps = (deps - {name}) | (previous.deps if previous else frozenset())
            if value is not None:
                scope[name] = value
            infos[name] = _Declared(name, value or "", command.location, deps)
    return infos


def make_outline(
    parsed: ParsedDockerfile, graph: BuildGraph, recorder: ArgRecorder, source: bytes
) -> Outline:
    """BuildKit's Outline of the graph's target: the ARGs, secrets and ssh sockets of the stages it needs
    (`recorder` heard the conversion that made `graph`)."""
    assert recorder.known is not None  # the converter tells its hooks the scope before any stage
    staged, scope, defaults, lexer = recorder.known
    infos = global_arg_infos(staged, defaults, recorder.build_args, lexer)
    target = staged.stages[graph.target.index]
    comments = _comments_by_line(parsed)
    dispatched = sorted(plan.index for plan in graph.stages)
    order = [target.index, *(index for index in dispatched if index != target.index)]
    args: dict[str, Arg] = {}
    for index in order:
        stage = staged.stages[index]
        declared = recorder.declared.get(index, {})
        used = _from_args(stage, scope, lexer) | set(declared)
        for name in _with_deps(used, infos, declared):
            found = declared.get(name)
            if found is None or found.inherited:
                found = infos.get(name)
            if found is None or name in args:
                continue
            description = doc_comment(comments.get(found.location.line, ()), name)
            args[name] = Arg(name, description, found.value, location_of(found.location))
    secrets, ssh = _mounts(graph)
    return Outline(
        name=target.name or "",
        description=doc_comment(comments.get(target.location.line, ()), target.name or ""),
        args=_by_line(args.values()),
        secrets=_by_line(secrets.values()),
        ssh=_by_line(ssh.values()),
        sources=(source,),
    )


def _from_args(stage: Stage, scope: Mapping[str, str], lexer: ShellLexer) -> set[str]:
    """The global ARGs a stage's FROM line uses."""
    used: set[str] = set()
    for word in (stage.source.base, stage.source.platform):
        if word is not None:
            with suppress(ExpansionError):
                used |= lexer.expand_reporting(word, scope)[1]
    return used


def _with_deps(
    used: set[str], infos: Mapping[str, _Declared], declared: Mapping[str, _Declared]
) -> list[str]:
    """`used` and the global ARGs their values were made from, transitively (BuildKit's markAllUsed)."""
    found: list[str] = []
    pending = sorted(used)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.append(name)
        own = declared.get(name)
        info = infos.get(name) if own is None or own.inherited else None
        if info is not None:
            pending.extend(sorted(info.deps))
    return found


def _mounts(graph: BuildGraph) -> tuple[dict[str, Secret], dict[str, Secret]]:
    secrets: dict[str, Secret] = {}
    ssh: dict[str, Secret] = {}
    for vertex in walk(graph.target.root):
        if not isinstance(vertex.op, Exec) or vertex.meta.location is None:
            continue
        for mount in vertex.op.mounts:
            kept = secrets if mount.type == "secret" else ssh if mount.type == "ssh" else None
            if kept is not None and mount.id is not None and mount.id not in kept:
                kept[mount.id] = Secret(mount.id, bool(mount.required), location_of(vertex.meta.location))
    return secrets, ssh


def _by_line(items: Iterable[_Located]) -> tuple[_Located, ...]:
    return tuple(sorted(items, key=lambda item: item.location.ranges[0].start.line if item.location else 0))


def format_outline(outline: Outline) -> str:
    """outline.PrintOutline: the target, then tables of build arguments, secrets and ssh sockets."""
    blocks: list[str] = []
    if outline.name or outline.description:
        rows: list[tuple[str, ...]] = [("TARGET:", outline.name or "(default)")]
        if outline.description:
            rows.append(("DESCRIPTION:", outline.description))
        blocks.append(_table(rows, padding=1))
    if outline.args:
        rows = [("BUILD ARG", "VALUE", "DESCRIPTION")]
        rows += [(arg.name, arg.value, arg.description) for arg in outline.args]
        blocks.append(_table(rows, padding=3))
    for title, entries in (("SECRET", outline.secrets), ("SSH", outline.ssh)):
        if entries:
            rows = [(title, "REQUIRED")]
            rows += [(entry.name, "true" if entry.required else "") for entry in entries]
            blocks.append(_table(rows, padding=3))
    return "".join(block + "\n" for block in blocks)


# ---- check ----------------------------------------------------------------------------------------------


def lint_results(
    path: str,
    source: bytes,
    warnings: Iterable[CheckWarning],
    error: tuple[str, SourceLocation | None] | None,
) -> LintResults:
    """BuildKit's LintResults: the warnings, the Dockerfile they point into, the error if there was one."""
    found = tuple(
        LintWarning(
            rule_name=warning.rule.name,
            description=warning.rule.description,
            url=warning.rule.url,
            detail=warning.detail,
            location=location_of(warning.location),
        )
        for warning in warnings
    )
    build_error = None
    if error is not None:
        message, where = error
        build_error = BuildError(message, location_of(where) if where is not None else Location())
    return LintResults(
        warnings=found or None,
        sources=(SourceInfo(filename=path, data=source, language="Dockerfile"),),
        error=build_error,
    )


# ---- helpers --------------------------------------------------------------------------------------------


def _comments_by_line(parsed: ParsedDockerfile) -> dict[int, tuple[str, ...]]:
    return {instruction.location.line: instruction.comments for instruction in parsed.instructions}


def _table(rows: Sequence[tuple[str, ...]], *, padding: int) -> str:
    """Go's tabwriter (padding blanks, flags 0): every cell but the last of a row padded to its column."""
    columns = max(len(row) for row in rows)
    widths = [max(len(row[column]) for row in rows if len(row) > column) for column in range(columns - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[column] + padding) for column, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + row[-1])
    return "\n".join(lines) + "\n"
