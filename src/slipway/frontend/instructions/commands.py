"""The typed instructions (BuildKit's instructions/commands.go): one frozen struct per instruction on a
tiny base (location, text), as written: nothing here is expanded."""

from __future__ import annotations

import msgspec

from slipway.errors import SourceLocation
from slipway.frontend.parser import Heredoc


class KeyValue(msgspec.Struct, frozen=True):
    """One ENV or LABEL pair as written (not expanded); `legacy` for the `ENV name value` form."""

    key: str
    value: str
    legacy: bool = False


class ArgDeclaration(msgspec.Struct, frozen=True):
    """One name of an ARG instruction; `default` is None for a value-less `ARG NAME`."""

    name: str
    default: str | None = None


class InlineFile(msgspec.Struct, frozen=True):
    """A here-document used as a COPY/ADD source (`COPY <<EOF /dest`)."""

    name: str
    content: str
    expand: bool


class _Base(msgspec.Struct, frozen=True):
    location: SourceLocation
    original: str  # the instruction's text, continuation lines joined


class FromCommand(_Base, frozen=True):
    base: str  # as written; expanded with the global ARGs by the converter
    stage_name: str | None  # lower-cased, validated
    platform: str | None


class RunCommand(_Base, frozen=True):
    command: tuple[str, ...]  # JSON form: the argv; shell form: one string for the shell
    prepend_shell: bool  # shell form
    heredocs: tuple[Heredoc, ...]
    mounts: tuple[str, ...]  # each --mount value as written; `parse_mount` reads it once expanded
    network: str | None
    security: str | None


class CopyCommand(_Base, frozen=True):
    sources: tuple[str, ...]
    inline: tuple[InlineFile, ...]
    dest: str
    from_ref: str | None
    chown: str | None
    chmod: str | None
    link: bool
    parents: bool
    exclude: tuple[str, ...]


class AddCommand(_Base, frozen=True):
    sources: tuple[str, ...]
    inline: tuple[InlineFile, ...]
    dest: str
    chown: str | None
    chmod: str | None
    link: bool
    checksum: str | None
    keep_git_dir: bool | None
    exclude: tuple[str, ...]
    unpack: bool | None


class EnvCommand(_Base, frozen=True):
    pairs: tuple[KeyValue, ...]


class LabelCommand(_Base, frozen=True):
    pairs: tuple[KeyValue, ...]


class ArgCommand(_Base, frozen=True):
    args: tuple[ArgDeclaration, ...]


class WorkdirCommand(_Base, frozen=True):
    path: str


class UserCommand(_Base, frozen=True):
    user: str


class ExposeCommand(_Base, frozen=True):
    ports: tuple[str, ...]  # as written, sorted as BuildKit sorts them


class VolumeCommand(_Base, frozen=True):
    volumes: tuple[str, ...]


class CmdCommand(_Base, frozen=True):
    command: tuple[str, ...]
    prepend_shell: bool


class EntrypointCommand(_Base, frozen=True):
    command: tuple[str, ...]
    prepend_shell: bool


class StopSignalCommand(_Base, frozen=True):
    signal: str


class HealthcheckCommand(_Base, frozen=True):
    test: tuple[str, ...]  # ("NONE",), ("CMD", argv...) or ("CMD-SHELL", command)
    interval: int = 0  # nanoseconds; 0 inherits
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


class ShellCommand(_Base, frozen=True):
    shell: tuple[str, ...]


class OnbuildCommand(_Base, frozen=True):
    expression: str  # the trigger's text, as stored in the image config's OnBuild
    trigger: str  # the trigger's keyword, lower-case


class MaintainerCommand(_Base, frozen=True):
    maintainer: str


Command = (
    FromCommand
    | RunCommand
    | CopyCommand
    | AddCommand
    | EnvCommand
    | LabelCommand
    | ArgCommand
    | WorkdirCommand
    | UserCommand
    | ExposeCommand
    | VolumeCommand
    | CmdCommand
    | EntrypointCommand
    | StopSignalCommand
    | HealthcheckCommand
    | ShellCommand
    | OnbuildCommand
    | MaintainerCommand
)


class InvalidValue(Exception):
    """A value an instruction cannot take, without its location: `parse_command` adds the location on the
    way out; the converter does the same for values it checks once expanded (`parse_mount`, `check_chmod`)."""
