"""SOURCE_DATE_EPOCH as the Dockerfile frontend reads it (BuildKit's dockerfile2llb/epoch.go).

The value of the build arg, else of a global ARG, is whole seconds since 1970; `context` (the build context's
own date: a git context's commit, an HTTP context's Last-Modified or newest file; a local directory has none);
the name of a named context (its own date, the same way); or the name of a source-only stage (FROM scratch,
ARGs and one ADD of an HTTP(S) URL), which the build is then dated by: the URL's Last-Modified, else the
newest file of the archive it serves. The stage's download is the caller's (`RemoteEpoch`): nothing here
touches the network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress

import msgspec

from slipway.epoch import EPOCH_ARG, parse_epoch
from slipway.errors import DockerfileError
from slipway.frontend.instructions import AddCommand, ArgCommand, Command, written_keyword
from slipway.frontend.named_contexts import NamedContext, find_named_context
from slipway.frontend.shell import ShellLexer
from slipway.frontend.stages import Stage, StagedDockerfile, expand_word

__all__ = ["ContextDates", "RemoteEpoch", "StageEpochSource", "epoch_value", "resolve_epoch"]

# The date of an HTTP(S) source: (url, checksum) -> its Last-Modified, or its archive's newest file, or None.
RemoteEpoch = Callable[[str, str | None], int | None]
_CONTEXT = "context"
_SCRATCH = "scratch"


class ContextDates(msgspec.Struct, frozen=True):
    """The dates of the build's contexts, known once they are fetched: the build context's, the named ones'."""

    context: int | None = None
    named: tuple[NamedContext, ...] = ()


_NO_DATES = ContextDates()


class StageEpochSource(msgspec.Struct, frozen=True):
    """The one remote ADD a SOURCE_DATE_EPOCH stage dates the build by."""

    url: str
    checksum: str | None


def epoch_value(build_args: Mapping[str, str], globals_: Mapping[str, str]) -> str | None:
    """BuildKit's getBuildArgValue: the build arg (even empty), else a global ARG's non-empty value."""
    if EPOCH_ARG in build_args:
        return build_args[EPOCH_ARG]
    return globals_.get(EPOCH_ARG) or None


def resolve_epoch(
    value: str,
    staged: StagedDockerfile,
    build_args: Mapping[str, str],
    globals_: Mapping[str, str],
    lexer: ShellLexer,
    remote: RemoteEpoch | None,
    dates: ContextDates = _NO_DATES,
) -> tuple[int | None, StageEpochSource | None]:
    """The build's epoch for `value`, and the stage source it came from (if one did). Without `remote` (an
    evaluation, which fetches nothing) a stage's date is unknown: no epoch, as BuildKit without a client."""
    with suppress(ValueError):
        return parse_epoch(value), None
    if value == _CONTEXT:
        return dates.context, None
    named = find_named_context(dates.named, value)
    if named is not None:  # as BuildKit: a named context before a stage of that name
        return named.epoch, None
    stage = staged.named.get(value.lower())
    if stage is None:
        raise DockerfileError(f"invalid {EPOCH_ARG}: {value}")
    scope = {name: text for name, text in globals_.items() if name != EPOCH_ARG}
    try:
        source = _stage_source(stage, build_args, scope, lexer)
    except DockerfileError as err:
        raise DockerfileError(err.message, stage.location) from None
    if remote is None:
        return None, source
    return remote(source.url, source.checksum), source


def _stage_source(
    stage: Stage, build_args: Mapping[str, str], scope: dict[str, str], lexer: ShellLexer
) -> StageEpochSource:
    """BuildKit's sourceDateEpochStageSource: the stage must be FROM scratch with ARGs and one remote ADD."""
    base, _ = expand_word(lexer, stage.source.base, scope, stage.location, "FROM")
    if base != _SCRATCH:
        raise DockerfileError(f"{EPOCH_ARG} stage must use FROM scratch")
    source: StageEpochSource | None = None
    for command in stage.commands:
        if isinstance(command, ArgCommand):
            _declare(command, build_args, scope, lexer)
        elif isinstance(command, AddCommand):
            if source is not None:
                raise DockerfileError(f"{EPOCH_ARG} stage must contain exactly one remote ADD")
            source = _add_source(command, scope, lexer)
        else:
            raise DockerfileError(
                f"{EPOCH_ARG} stage does not meet source-only requirements: unsupported "
                f"{_name(command)} instruction"
            )
    if source is None:
        raise DockerfileError(f"{EPOCH_ARG} stage must contain exactly one remote ADD")
    return source


def _declare(
    command: ArgCommand, build_args: Mapping[str, str], scope: dict[str, str], lexer: ShellLexer
) -> None:
    for declaration in command.args:
        if declaration.name in build_args:
            scope[declaration.name] = build_args[declaration.name]
        elif declaration.default is not None:
            scope[declaration.name], _ = expand_word(
                lexer, declaration.default, scope, command.location, "ARG"
            )


def _add_source(command: AddCommand, scope: Mapping[str, str], lexer: ShellLexer) -> StageEpochSource:
    if command.inline or len(command.sources) != 1:
        raise DockerfileError(f"{EPOCH_ARG} stage must contain exactly one remote ADD source")
    url, _ = expand_word(lexer, command.sources[0], scope, command.location, "ADD")
    if not url.startswith(("http://", "https://")):
        if url.startswith(("git@", "git://", "ssh://")):
            raise DockerfileError(
                f"{EPOCH_ARG} from a stage that ADDs a git repository: slipway does not date those yet"
            )
        raise DockerfileError(f"{EPOCH_ARG} stage source must be a single HTTP(S) or Git ADD")
    checksum = None
    if command.checksum is not None:
        checksum, _ = expand_word(lexer, command.checksum, scope, command.location, "ADD --checksum")
    return StageEpochSource(url, checksum)


def _name(command: Command) -> str:
    """cmd.Name() in BuildKit's message: the keyword, lower-cased."""
    return written_keyword(command.original).lower()
