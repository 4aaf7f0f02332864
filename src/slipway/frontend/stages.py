"""Stages and ARG scope, by BuildKit's dockerfile2llb rules.

A Dockerfile is split into stages at each FROM; the ARGs before the first FROM are the global (meta) ARGs.
Stages are named with `AS name` (case-insensitive, unique) or known by their index. A reference to a stage
(`FROM <stage>`, `COPY --from`, `RUN --mount from=`) names an earlier stage by name or index; anything else
there is an image reference. ARG scope:

- the global scope holds the predefined platform ARGs (TARGETPLATFORM, BUILDARCH, ... from the options) and
  the global ARGs; it is used for FROM lines only;
- inside a stage an ARG is visible from its declaration on; a value-less `ARG NAME` takes the global value
  (which is how `ARG TARGETARCH` works), a `--build-arg` overrides any default;
- the proxy ARGs (HTTP_PROXY ...) reach RUN's environment when given with --build-arg, never the history.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import msgspec

from slipway.errors import DockerfileError, ExpansionError, SourceLocation, StageNotFound, UsageError
from slipway.frontend._golang import go_quote
from slipway.frontend._suggest import did_you_mean
from slipway.frontend.instructions import ArgCommand, ArgDeclaration, Command, FromCommand, parse_command
from slipway.frontend.parser import ParsedDockerfile
from slipway.frontend.shell import ShellLexer
from slipway.image import platforms

__all__ = [
    "PLATFORM_ARGS",
    "PROXY_ARGS",
    "Platform",
    "Stage",
    "StagedDockerfile",
    "declare_arg",
    "expand_word",
    "find_base_stage",
    "find_stage",
    "global_args",
    "parse_platform",
    "platform_args",
    "proxy_env",
    "select_target",
    "split_stages",
]

PLATFORM_ARGS = (
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "BUILDOSVERSION",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETOSVERSION",
    "TARGETSTAGE",
)
PROXY_ARGS = ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")

# A stage index as BuildKit reads one (strconv.Atoi): ASCII digits, not so many that they overflow an int.
_STAGE_INDEX = re.compile(r"[0-9]{1,18}")
_LISTED_STAGES = 20  # an error lists this many stages, then a count
# containerd's specifierRe: what each /-separated part of a platform may hold.
_PLATFORM_COMPONENT = re.compile("^[A-Za-z0-9_.-]+$")


class Stage(msgspec.Struct, frozen=True):
    index: int
    name: str | None  # lower-case
    source: FromCommand
    commands: tuple[Command, ...]

    @property
    def display_name(self) -> str:
        """What progress shows: the name, or `stage-N` as BuildKit calls an unnamed stage."""
        return self.name if self.name is not None else f"stage-{self.index}"

    @property
    def location(self) -> SourceLocation:
        return self.source.location


class StagedDockerfile(msgspec.Struct, frozen=True):
    path: str
    escape: str
    global_args: tuple[ArgCommand, ...]  # the ARGs before the first FROM
    stages: tuple[Stage, ...]
    named: dict[str, Stage]  # the stages by name: a lookup must not scan ten thousand stages


class Platform(msgspec.Struct, frozen=True):
    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""

    def __str__(self) -> str:
        os_name = f"{self.os}({self.os_version})" if self.os_version else self.os
        text = f"{os_name}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def split_stages(parsed: ParsedDockerfile) -> StagedDockerfile:
    """Type every instruction and split at FROM; DockerfileError names the line of what is wrong."""
    global_arguments: list[ArgCommand] = []
    stages: list[tuple[FromCommand, list[Command]]] = []
    for instruction in parsed.instructions:
        command = parse_command(instruction)
        if isinstance(command, FromCommand):
            stages.append((command, []))
        elif stages:
            stages[-1][1].append(command)
        elif isinstance(command, ArgCommand):
            global_arguments.append(command)
        else:
            raise DockerfileError(
                f"{instruction.keyword.upper()} before the first FROM: only ARG may come before FROM",
                instruction.location,
            )
    if not stages:
        last = parsed.instructions[-1].location if parsed.instructions else None
        raise DockerfileError("dockerfile contains no stages to build", last)
    typed = tuple(
        Stage(index=index, name=source.stage_name, source=source, commands=tuple(commands))
        for index, (source, commands) in enumerate(stages)
    )
    return StagedDockerfile(
        path=parsed.path,
        escape=parsed.escape,
        global_args=tuple(global_arguments),
        stages=typed,
        named=_stages_by_name(typed),
    )


def _stages_by_name(stages: tuple[Stage, ...]) -> dict[str, Stage]:
    """The stages by name. A name used twice is no error (the build check DuplicateStageName warns): as in
    BuildKit, it names the last stage of that name."""
    return {stage.name: stage for stage in stages if stage.name is not None}


def find_stage(
    staged: StagedDockerfile,
    reference: str,
    current: int,
    location: SourceLocation,
    what: str,
    later: Callable[[Stage], str] | None = None,
) -> Stage | None:
    """The earlier stage `reference` names (name, case-insensitive, or index), None if it names none.

    A reference to the current or a later stage is an error (BuildKit cannot build it first), and so is an
    index past the last stage; `what` says who refers (`COPY --from=build`), `later` words the error for a
    later stage. A name used by several stages means the last of them, as in BuildKit.
    """
    stages = staged.stages
    if _STAGE_INDEX.fullmatch(reference):
        index = int(reference)
        if index >= len(stages):
            raise StageNotFound(
                f"{what}: there is no stage {index}; stages are {_list_stages(stages)}",
                location,
            )
        _check_earlier(stages[index], current, location, what, later)
        return stages[index]
    stage = staged.named.get(reference.lower())
    if stage is not None:
        _check_earlier(stage, current, location, what, later)
    return stage


def find_base_stage(
    staged: StagedDockerfile, name: str, current: int, location: SourceLocation
) -> Stage | None:
    """The earlier stage a FROM line names (by name only, as BuildKit), None for an image.

    `FROM node AS node` builds on the image: a stage's own name is not defined yet on its FROM line. A name
    of a later stage is an error: it would silently be looked up as an image otherwise.
    """
    stage = staged.named.get(name.lower())
    if stage is None or stage.index == current:
        return None
    if stage.index > current:
        # A name used twice (a build check warns): the last stage of that name before this one, if any.
        earlier = (other for other in reversed(staged.stages[:current]) if other.name == stage.name)
        stage = next(earlier, stage)
    _check_earlier(stage, current, location, f"FROM {name}")
    return stage


def _check_earlier(
    stage: Stage,
    current: int,
    location: SourceLocation,
    what: str,
    later: Callable[[Stage], str] | None = None,
) -> None:
    if stage.index == current:
        raise StageNotFound(f"{what}: stage {stage.display_name!r} refers to itself (a cycle)", location)
    if stage.index > current and later is not None:
        raise StageNotFound(later(stage), location)
    if stage.index > current:
        raise StageNotFound(
            f"{what}: stage {stage.display_name!r} is defined later (line {stage.location.line}); "
            "a stage can only use stages defined before it",
            location,
        )


def _list_stages(stages: tuple[Stage, ...]) -> str:
    return _listed([f"{stage.index} ({stage.name})" if stage.name else str(stage.index) for stage in stages])


def _listed(names: list[str]) -> str:
    """Names for an error message: the first few, then how many more (a Dockerfile may have thousands)."""
    more = len(names) - _LISTED_STAGES
    return ", ".join(names[:_LISTED_STAGES]) + (f" and {more:,} more" if more > 0 else "")


def select_target(staged: StagedDockerfile, target: str | None) -> Stage:
    """The stage --target names (case-insensitive), or the last stage."""
    if target is None or target == "":
        return staged.stages[-1]
    stage = staged.named.get(target.lower())
    if stage is not None:
        return stage
    message = f"target stage {go_quote(target)} could not be found"
    suggested = did_you_mean(message, target, [stage.display_name for stage in staged.stages])
    if suggested != message:
        raise StageNotFound(suggested)
    names = list(staged.named)
    listed = (
        f"the stages are {_listed(names)}" if names else "the Dockerfile names no stage (FROM ... AS name)"
    )
    raise StageNotFound(f"{message}; {listed}")


# ---- ARG scope ----------------------------------------------------------------------------------------


def parse_platform(text: str) -> Platform:
    """containerd's platforms.Parse (image/platforms.py), in the form the platform ARGs show: "linux/arm/v7",
    "linux/arm64" (its v8 is implied), "windows(10.0.20348)/amd64"; ValueError when it does not parse."""
    for part in text.lower().split("/")[:4]:
        if text and "(" not in part and not _PLATFORM_COMPONENT.fullmatch(part.strip()):
            raise ValueError(
                f"{go_quote(part)} is an invalid component of {go_quote(text)}: platform specifier component "
                f"must match {go_quote(_PLATFORM_COMPONENT.pattern)}: invalid argument"
            )
    try:
        parsed = platforms.parse_platform(text)
    except UsageError as err:
        raise ValueError(str(err)) from None
    return Platform(
        os=parsed.os,
        architecture=parsed.architecture,
        variant=platforms.shown_variant(parsed) or "",
        os_version=parsed.os_version or "",
    )


def platform_args(
    target: Platform, build: Platform, target_stage: str, build_args: Mapping[str, str]
) -> dict[str, str]:
    """BuildKit's defaultArgs: the predefined platform ARGs, each overridable by --build-arg."""
    values = {
        "BUILDPLATFORM": str(build),
        "BUILDOS": build.os,
        "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
        "BUILDOSVERSION": build.os_version,
        "TARGETPLATFORM": str(target),
        "TARGETOS": target.os,
        "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant,
        "TARGETOSVERSION": target.os_version,
        "TARGETSTAGE": target_stage,
    }
    return {name: build_args.get(name, value) for name, value in values.items()}


def expand_word(
    lexer: ShellLexer, word: str, env: Mapping[str, str], location: SourceLocation, what: str
) -> tuple[str, frozenset[str]]:
    """Expand `word` with `env`; the names it used. An expansion error gets `location` and `what`."""
    try:
        return lexer.expand_with_matches(word, env)
    except ExpansionError as err:
        raise ExpansionError(f"{what}: {err.message}", location) from None


def global_args(
    declarations: tuple[ArgCommand, ...],
    defaults: Mapping[str, str],
    build_args: Mapping[str, str],
    lexer: ShellLexer,
) -> dict[str, str]:
    """BuildKit's buildMetaArgs: the global scope, for FROM lines and value-less ARGs in stages."""
    scope = dict(defaults)
    for command in declarations:
        for declaration in command.args:
            if declaration.name in build_args:
                scope[declaration.name] = build_args[declaration.name]
            elif declaration.default is not None:
                value, _ = expand_word(lexer, declaration.default, scope, command.location, "ARG")
                scope[declaration.name] = value
    return scope


def declare_arg(
    declaration: ArgDeclaration,
    *,
    build_args: Mapping[str, str],
    globals_: Mapping[str, str],
    env: Mapping[str, str],
    lexer: ShellLexer,
    location: SourceLocation,
) -> tuple[str | None, frozenset[str]]:
    """BuildKit's dispatchArg for one name: its value in the stage (None: declared without a value) and
    the names its default used."""
    if declaration.name in build_args:
        return build_args[declaration.name], frozenset()
    if declaration.default is None:
        return globals_.get(declaration.name), frozenset()
    return expand_word(lexer, declaration.default, env, location, "ARG")


def proxy_env(build_args: Mapping[str, str], env: Mapping[str, str]) -> tuple[str, ...]:
    """RUN's proxy variables from --build-arg (both spellings, as BuildKit's ProxyEnv sets them), except
    those the stage's environment already holds."""
    values: dict[str, str] = {}
    for name in sorted(build_args):  # sorted, as BuildKit: http_proxy wins over HTTP_PROXY
        if name.upper() in PROXY_ARGS:
            values[name.upper()] = build_args[name]
    pairs: list[str] = []
    for name in PROXY_ARGS:
        if name not in values:
            continue
        for spelling in (name, name.lower()):
            if spelling not in env:
                pairs.append(f"{spelling}={values[name]}")
    return tuple(pairs)
