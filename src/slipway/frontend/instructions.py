"""Typed Dockerfile instructions, by BuildKit's `frontend/dockerfile/instructions` rules.

`parse_command(instruction)` turns one parsed `Instruction` into one frozen dataclass per instruction kind
(`RunCommand`, `CopyCommand`, ...), with its flags checked: each instruction accepts exactly BuildKit's
flags, with BuildKit's value rules. Nothing is expanded here (the converter expands words with the stage's
scope); values that hold no variable are checked here already, so a typo fails before any image is pulled.
Every error leaving this module is a `DockerfileError` carrying the instruction's location.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Literal

import msgspec

from slipway.choices import NETWORK_MODES
from slipway.errors import DockerfileError, DockerfileSyntaxError, SourceLocation
from slipway.frontend._golang import GO_SPACE, go_quote
from slipway.frontend._suggest import did_you_mean
from slipway.frontend.parser import Heredoc, Instruction

__all__ = [
    "AddCommand",
    "ArgCommand",
    "ArgDeclaration",
    "CmdCommand",
    "Command",
    "CopyCommand",
    "EntrypointCommand",
    "EnvCommand",
    "ExposeCommand",
    "FromCommand",
    "HealthcheckCommand",
    "InlineFile",
    "InvalidValue",
    "KeyValue",
    "LabelCommand",
    "MaintainerCommand",
    "MountSpec",
    "OnbuildCommand",
    "RunCommand",
    "ShellCommand",
    "StopSignalCommand",
    "UserCommand",
    "VolumeCommand",
    "WorkdirCommand",
    "check_chmod",
    "check_mount",
    "check_signal",
    "heredoc_name",
    "mount_from",
    "parse_command",
    "parse_duration",
    "parse_mount",
    "parse_ram_bytes",
    "written_keyword",
]

MountType = Literal["bind", "cache", "tmpfs", "secret", "ssh"]
Sharing = Literal["shared", "private", "locked"]

# BuildKit's validStageName, applied to the lower-cased name.
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")
# BuildKit's heredoc word: optional fd number, <<, optional -, the delimiter word (maybe quoted).
_HEREDOC_WORD = re.compile(r"\d*<<(-?)\s*([^<]+)")
_ONBUILD_PREFIX = re.compile(r"^\s*ONBUILD\s*", re.IGNORECASE)

_BOOL: Literal["bool"] = "bool"
_STRING: Literal["string"] = "string"
_STRINGS: Literal["strings"] = "strings"  # repeatable
FlagKind = Literal["bool", "string", "strings"]

# Exactly the flags BuildKit's dockerfile:1 frontend registers for each instruction.
FLAGS: Mapping[str, Mapping[str, FlagKind]] = MappingProxyType(
    {
        "from": MappingProxyType({"platform": _STRING}),
        "run": MappingProxyType({"mount": _STRINGS, "network": _STRING, "security": _STRING}),
        "copy": MappingProxyType(
            {
                "from": _STRING,
                "chown": _STRING,
                "chmod": _STRING,
                "link": _BOOL,
                "parents": _BOOL,
                "exclude": _STRINGS,
            }
        ),
        "add": MappingProxyType(
            {
                "chown": _STRING,
                "chmod": _STRING,
                "link": _BOOL,
                "checksum": _STRING,
                "keep-git-dir": _BOOL,
                "exclude": _STRINGS,
                "unpack": _BOOL,
            }
        ),
        "healthcheck": MappingProxyType(
            {
                "interval": _STRING,
                "timeout": _STRING,
                "start-period": _STRING,
                "start-interval": _STRING,
                "retries": _STRING,
            }
        ),
    }
)

_KEYWORDS = (
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
)

# In BuildKit's order: the first of two equally close names is the one suggested.
_MOUNT_KEYS = (
    *("type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode", "uid"),
    *("gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env"),
)
_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING_MODES = ("shared", "private", "locked")
_KEYWORD_AS_WRITTEN = re.compile(f"[^{GO_SPACE}]*")
_FROM_VARIABLE = "'from' doesn't support variable expansion, define alias stage instead"

# Signal names Linux knows (moby/sys/signal's SignalMap), without the SIG prefix.
_SIGNALS = frozenset(
    (
        *("ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL"),
        *("PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP"),
        *(
            "TTIN",
            "TTOU",
            "URG",
            "USR1",
            "USR2",
            "VTALRM",
            "WINCH",
            "XCPU",
            "XFSZ",
            "RTMIN",
            "RTMAX",
            "UNUSED",
        ),
        *(f"RTMIN+{n}" for n in range(1, 16)),
        *(f"RTMAX-{n}" for n in range(1, 15)),
    )
)

# strconv.Atoi's numbers (ASCII digits that fit an int); longer digit strings are no signal.
_SIGNAL_NUMBER = re.compile(r"[0-9]{1,18}")
_SECURITIES = ("sandbox", "insecure")

_DURATION_UNITS = MappingProxyType(
    {
        "ns": 1,
        "us": 1_000,
        "µs": 1_000,
        "μs": 1_000,
        "ms": 1_000_000,
        "s": 10**9,
        "m": 60 * 10**9,
        "h": 3600 * 10**9,
    }
)
_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
_MINIMUM_INTERVAL = 1_000_000  # BuildKit refuses health check durations under 1ms (0 means inherit)

_RAM_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)", re.IGNORECASE)
_CHMOD_SYMBOLIC = re.compile(r"[ugoa]*[-+=](?:[rwxXst]*|[ugo])(?:,[ugoa]*[-+=](?:[rwxXst]*|[ugo]))*")


# ---- typed values -------------------------------------------------------------------------------------


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


class MountSpec(msgspec.Struct, frozen=True):
    """One RUN --mount after expansion, with BuildKit's defaults for what it left out."""

    type: MountType = "bind"
    target: str = ""
    source: str = ""
    from_ref: str = ""  # stage name, stage index or image reference; "" is the build context
    readonly: bool = True
    id: str = ""
    sharing: Sharing | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    required: bool = False
    env: str | None = None


# ---- commands -----------------------------------------------------------------------------------------


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


# ---- parsing ------------------------------------------------------------------------------------------


class InvalidValue(Exception):
    """A value an instruction cannot take, without its location: `parse_command` adds the location on the
    way out; the converter does the same for values it checks once expanded (`parse_mount`, `check_chmod`)."""


FlagValue = str | bool | tuple[str, ...]


def parse_command(instruction: Instruction) -> Command:
    """The typed command for one instruction; DockerfileError (with its location) when it is wrong."""
    if instruction.keyword not in _KEYWORDS:
        raise DockerfileSyntaxError(_unknown_instruction(instruction), instruction.location)
    try:
        return _parse(instruction)
    except InvalidValue as err:
        keyword = instruction.keyword.upper()
        raise DockerfileError(f"{keyword}: {err}", instruction.location) from None


def _parse(instruction: Instruction) -> Command:
    keyword = instruction.keyword.lower()
    flags = _parse_flags(keyword, instruction.flags)
    args = instruction.args
    loc, text = instruction.location, instruction.original
    match keyword:
        case "from":
            return _parse_from(instruction, flags)
        case "run":
            return _parse_run(instruction, flags)
        case "copy" | "add":
            return _parse_copy_or_add(keyword, instruction, flags)
        case "env" | "label":
            pairs = _parse_pairs(args)
            if keyword == "env":
                return EnvCommand(location=loc, original=text, pairs=pairs)
            return LabelCommand(location=loc, original=text, pairs=pairs)
        case "arg":
            return ArgCommand(location=loc, original=text, args=_parse_arg_declarations(args))
        case "workdir":
            return WorkdirCommand(location=loc, original=text, path=_exactly_one(args))
        case "user":
            return UserCommand(location=loc, original=text, user=_exactly_one(args))
        case "stopsignal":
            signal = _exactly_one(args)
            if "$" not in signal:
                check_signal(signal)
            return StopSignalCommand(location=loc, original=text, signal=signal)
        case "maintainer":
            return MaintainerCommand(location=loc, original=text, maintainer=_exactly_one(args))
        case "expose":
            if not args:
                raise InvalidValue("needs at least one port")
            return ExposeCommand(location=loc, original=text, ports=tuple(sorted(args)))
        case "volume":
            return VolumeCommand(location=loc, original=text, volumes=_parse_volumes(args))
        case "cmd":
            shell_form = not instruction.json_form
            return CmdCommand(
                location=loc, original=text, command=_command_line(instruction), prepend_shell=shell_form
            )
        case "entrypoint":
            command = _command_line(instruction)
            shell_form = not instruction.json_form
            return EntrypointCommand(location=loc, original=text, command=command, prepend_shell=shell_form)
        case "shell":
            return ShellCommand(location=loc, original=text, shell=_parse_shell(instruction))
        case "healthcheck":
            return _parse_healthcheck(instruction, flags)
        case "onbuild":
            return _parse_onbuild(instruction)
    raise AssertionError(keyword)  # every keyword of _KEYWORDS has a case


def _unknown_instruction(instruction: Instruction) -> str:
    """BuildKit's words: "dockerfile parse error on line 4: unknown instruction: BADCMD (did you mean ADD?)"."""
    written = written_keyword(instruction.original)
    message = f"dockerfile parse error on line {instruction.location.line}: unknown instruction: {written}"
    return did_you_mean(message, written, (keyword.upper() for keyword in _KEYWORDS), case_sensitive=False)


def written_keyword(original: str) -> str:
    """An instruction's keyword as written (the parser keeps it lower-cased): what BuildKit's messages and
    casing checks use."""
    match = _KEYWORD_AS_WRITTEN.match(original.lstrip(GO_SPACE))
    assert match is not None  # the pattern matches the empty string
    return match[0]


def _parse_flags(keyword: str, written: tuple[str, ...]) -> dict[str, FlagValue]:
    """BuildKit's BFlags.Parse: `--name=value`, booleans as `--name` or `--name=true|false`."""
    accepted = FLAGS.get(keyword, {})
    values: dict[str, FlagValue] = {}
    for flag in written:
        if not flag.startswith("--") or flag == "--":
            raise InvalidValue(f"flag {flag!r} should start with --")
        name, has_value, value = flag[2:].partition("=")
        kind = accepted.get(name)
        if kind is None:
            raise InvalidValue(_unknown_flag_message(keyword, name, accepted))
        if name in values and kind != _STRINGS:
            raise InvalidValue(f"--{name} is given twice")
        if kind == _BOOL:
            values[name] = _bool_flag(name, value, has_value=bool(has_value))
        elif not has_value:
            raise InvalidValue(f"--{name} needs a value (--{name}=...)")
        elif kind == _STRINGS:
            previous = values.get(name, ())
            assert isinstance(previous, tuple)
            values[name] = (*previous, value)
        else:
            values[name] = value
    return values


def _unknown_flag_message(keyword: str, name: str, accepted: Mapping[str, FlagKind]) -> str:
    """BuildKit's "unknown flag: --mont (did you mean mount?)"; without a close name, what is accepted."""
    message = did_you_mean(f"unknown flag: --{name}", name, accepted)
    if message.endswith("?)"):
        return message
    owners = [other.upper() for other, flags in FLAGS.items() if name in flags and other != keyword]
    where = f" (--{name} is a flag of {' and '.join(owners)})" if owners else ""
    if accepted:
        return f"{message}{where}; {keyword.upper()} accepts {', '.join('--' + f for f in accepted)}"
    return f"{message}{where}; {keyword.upper()} takes no flags"


def _bool_flag(name: str, value: str, *, has_value: bool) -> bool:
    if has_value and value == "":
        raise InvalidValue(f"--{name} needs a value: write --{name} or --{name}=true|false")
    if not has_value or value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise InvalidValue(f"--{name} expects true or false, not {value!r}")


def _string_flag(flags: Mapping[str, FlagValue], name: str) -> str | None:
    value = flags.get(name)
    if value is None:
        return None
    assert isinstance(value, str)
    if value == "":
        raise InvalidValue(f"--{name} needs a value (--{name}=...)")
    return value


def _strings_flag(flags: Mapping[str, FlagValue], name: str) -> tuple[str, ...]:
    value = flags.get(name, ())
    assert isinstance(value, tuple)
    return value


def _bool_or_none(flags: Mapping[str, FlagValue], name: str) -> bool | None:
    value = flags.get(name)
    assert value is None or isinstance(value, bool)
    return value


def _exactly_one(args: tuple[str, ...]) -> str:
    if len(args) != 1:
        raise InvalidValue(f"needs exactly one argument, got {len(args)}")
    return args[0]


def _parse_from(instruction: Instruction, flags: Mapping[str, FlagValue]) -> FromCommand:
    args = instruction.args
    stage_name: str | None = None
    if len(args) == 3 and args[1].lower() == "as":
        stage_name = args[2].lower()
        if not _STAGE_NAME.fullmatch(stage_name):
            raise InvalidValue(
                f"invalid stage name {args[2]!r}: a name starts with a letter and holds only letters, "
                "digits, '-', '_' and '.'"
            )
    elif len(args) != 1:
        raise InvalidValue("needs either one or three arguments: FROM <image> [AS <name>]")
    platform = _string_flag(flags, "platform")
    return FromCommand(
        location=instruction.location,
        original=instruction.original,
        base=args[0],
        stage_name=stage_name,
        platform=platform,
    )


def _parse_run(instruction: Instruction, flags: Mapping[str, FlagValue]) -> RunCommand:
    command = _command_line(instruction)
    if not command or (not instruction.json_form and not command[0].strip()):
        raise InvalidValue("needs a command to run")
    network = _string_flag(flags, "network")
    if network is not None and network not in NETWORK_MODES:
        raise InvalidValue(f"unsupported network mode {network!r}; use {', '.join(NETWORK_MODES)}")
    security = _string_flag(flags, "security")
    if security is not None and security not in _SECURITIES:
        raise InvalidValue(f"unsupported security mode {security!r}; use {', '.join(_SECURITIES)}")
    mounts = _strings_flag(flags, "mount")
    for mount in mounts:
        check_mount(mount)
    return RunCommand(
        location=instruction.location,
        original=instruction.original,
        command=command,
        prepend_shell=not instruction.json_form,
        heredocs=instruction.heredocs,
        mounts=mounts,
        network=network,
        security=security,
    )


def _command_line(instruction: Instruction) -> tuple[str, ...]:
    """BuildKit's handleJSONArgs: the JSON array as is, else the rest of the line as one string."""
    if instruction.json_form:
        return instruction.args
    if not instruction.args:
        return ()
    return (" ".join(instruction.args),)


def _parse_copy_or_add(
    keyword: str, instruction: Instruction, flags: Mapping[str, FlagValue]
) -> CopyCommand | AddCommand:
    args = instruction.args
    if len(args) < 2:
        raise InvalidValue(
            "needs at least two arguments (source and destination); the destination is missing"
        )
    dest = args[-1]
    if heredoc_name(dest) is not None:
        raise InvalidValue("a here-document cannot be the destination")
    sources, inline = _split_sources(args[:-1], instruction.heredocs)
    chmod = _string_flag(flags, "chmod")
    if chmod is not None and "$" not in chmod:
        check_chmod(chmod)
    chown = _string_flag(flags, "chown")
    link = bool(flags.get("link", False))
    exclude = _strings_flag(flags, "exclude")
    loc, text = instruction.location, instruction.original
    if keyword == "copy":
        return CopyCommand(
            location=loc,
            original=text,
            sources=sources,
            inline=inline,
            dest=dest,
            from_ref=_string_flag(flags, "from"),
            chown=chown,
            chmod=chmod,
            link=link,
            parents=bool(flags.get("parents", False)),
            exclude=exclude,
        )
    checksum = _string_flag(flags, "checksum")
    if checksum is not None and len(sources) + len(inline) != 1:
        raise InvalidValue("--checksum needs exactly one source")
    return AddCommand(
        location=loc,
        original=text,
        sources=sources,
        inline=inline,
        dest=dest,
        chown=chown,
        chmod=chmod,
        link=link,
        checksum=checksum,
        keep_git_dir=_bool_or_none(flags, "keep-git-dir"),
        exclude=exclude,
        unpack=_bool_or_none(flags, "unpack"),
    )


def heredoc_name(word: str) -> tuple[str, bool] | None:
    """(delimiter, chomp) when `word` is a here-document marker like `<<EOF`, `<<-"EOF"`; else None."""
    match = _HEREDOC_WORD.fullmatch(word.strip())
    if match is None:
        return None
    name = match.group(2).strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1]
    elif any(character.isspace() for character in name):
        return None  # BuildKit: the marker must be one word; `<<EOF cat > f` is a command reading a heredoc
    if not name:
        return None
    return name, match.group(1) == "-"


def _split_sources(
    words: tuple[str, ...], heredocs: tuple[Heredoc, ...]
) -> tuple[tuple[str, ...], tuple[InlineFile, ...]]:
    by_name = {heredoc.name: heredoc for heredoc in heredocs}
    sources: list[str] = []
    inline: list[InlineFile] = []
    for word in words:
        marker = heredoc_name(word)
        if marker is None or marker[0] not in by_name:
            sources.append(word)
            continue
        heredoc = by_name[marker[0]]
        inline.append(InlineFile(name=heredoc.name, content=heredoc.content, expand=heredoc.expand))
    return tuple(sources), tuple(inline)


def check_chmod(chmod: str) -> None:
    """BuildKit's --chmod rule: octal up to 07777, or a symbolic mode such as u+x,g-w."""
    if chmod[:1].isdigit():  # what looks like a number must be an octal one (BuildKit's words)
        if not chmod.isdigit() or any(digit in "89" for digit in chmod) or int(chmod, 8) > 0o7777:
            raise InvalidValue(
                f"invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and 07777"
            )
        return
    if not _CHMOD_SYMBOLIC.fullmatch(chmod):
        raise InvalidValue(f"invalid --chmod={chmod}: use an octal mode (0755) or a symbolic one (u+x,g-w)")


def _parse_pairs(args: tuple[str, ...]) -> tuple[KeyValue, ...]:
    """ENV/LABEL: the parser gives (name, value, delimiter) triples, delimiter "" for `NAME value`."""
    if not args:
        raise InvalidValue("needs at least one name=value pair")
    if len(args) % 3 != 0:
        raise InvalidValue("bad input: expected name=value pairs")
    pairs: list[KeyValue] = []
    for index in range(0, len(args), 3):
        key, value, delimiter = args[index : index + 3]
        if not key:
            raise InvalidValue("names can not be blank")
        pairs.append(KeyValue(key=key, value=value, legacy=delimiter == ""))
    return tuple(pairs)


def _parse_arg_declarations(args: tuple[str, ...]) -> tuple[ArgDeclaration, ...]:
    if not args:
        raise InvalidValue("needs at least one name (ARG NAME or ARG NAME=default)")
    declarations: list[ArgDeclaration] = []
    for word in args:
        name, has_default, default = word.partition("=")
        if not name:
            raise InvalidValue(f"names can not be blank ({word!r})")
        declarations.append(ArgDeclaration(name=name, default=default if has_default else None))
    return tuple(declarations)


def _parse_volumes(args: tuple[str, ...]) -> tuple[str, ...]:
    if not args:
        raise InvalidValue("needs at least one path")
    volumes = tuple(volume.strip() for volume in args)
    if any(not volume for volume in volumes):
        raise InvalidValue("a volume can not be an empty string")
    return volumes


def _parse_shell(instruction: Instruction) -> tuple[str, ...]:
    if not instruction.json_form:
        raise InvalidValue('needs its arguments in JSON form, e.g. SHELL ["/bin/bash", "-c"]')
    if not instruction.args:
        raise InvalidValue("needs at least one argument")
    return instruction.args


def _parse_healthcheck(instruction: Instruction, flags: Mapping[str, FlagValue]) -> HealthcheckCommand:
    args = instruction.args
    if not args:
        raise InvalidValue("needs NONE or CMD <command>")
    kind = args[0].upper()
    if kind == "NONE":
        if len(args) != 1:
            raise InvalidValue("HEALTHCHECK NONE takes no arguments")
        if flags:
            raise InvalidValue("HEALTHCHECK NONE takes no flags")
        return HealthcheckCommand(
            location=instruction.location, original=instruction.original, test=("NONE",)
        )
    if kind != "CMD":
        raise InvalidValue(f"unknown type {args[0]!r} (try CMD)")
    command = args[1:] if instruction.json_form else ((" ".join(args[1:]),) if args[1:] else ())
    if not command:
        raise InvalidValue("missing command after HEALTHCHECK CMD")
    test = ("CMD", *command) if instruction.json_form else ("CMD-SHELL", *command)
    return HealthcheckCommand(
        location=instruction.location,
        original=instruction.original,
        test=test,
        interval=_interval(flags, "interval"),
        timeout=_interval(flags, "timeout"),
        start_period=_interval(flags, "start-period"),
        start_interval=_interval(flags, "start-interval"),
        retries=_retries(flags),
    )


def _interval(flags: Mapping[str, FlagValue], name: str) -> int:
    value = flags.get(name)
    if value is None or value == "":
        return 0
    assert isinstance(value, str)
    try:
        nanoseconds = parse_duration(value)
    except ValueError as err:
        raise InvalidValue(f"--{name}={value}: {err}") from None
    if 0 < nanoseconds < _MINIMUM_INTERVAL or nanoseconds < 0:
        raise InvalidValue(f"--{name}={value} cannot be less than 1ms")
    return nanoseconds


def _retries(flags: Mapping[str, FlagValue]) -> int:
    value = flags.get("retries")
    if value is None or value == "":
        return 0
    assert isinstance(value, str)
    try:
        retries = int(value, 10)
    except ValueError:
        raise InvalidValue(f"--retries={value} is not a number") from None
    if retries < 0:
        raise InvalidValue(f"--retries cannot be negative ({retries})")
    if retries > 2**31 - 1:
        raise InvalidValue(f"--retries={value} is out of range")
    return retries


def _parse_onbuild(instruction: Instruction) -> OnbuildCommand:
    nested = instruction.nested
    if nested is None:
        raise InvalidValue("needs an instruction to run later, e.g. ONBUILD RUN make")
    trigger = nested.keyword.lower()
    if trigger == "onbuild":
        raise InvalidValue("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("from", "maintainer"):
        raise InvalidValue(f"{trigger.upper()} isn't allowed as an ONBUILD trigger")
    # The trigger must itself be a valid instruction, or every image built FROM this one fails.
    parse_command(nested)
    expression = _ONBUILD_PREFIX.sub("", instruction.original, count=1)
    for heredoc in instruction.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    return OnbuildCommand(
        location=instruction.location, original=instruction.original, expression=expression, trigger=trigger
    )


# ---- values checked here and again once expanded --------------------------------------------------------


def check_signal(signal: str) -> None:
    """moby's ParseSignal: a number other than 0, or a known name with or without SIG."""
    if _SIGNAL_NUMBER.fullmatch(signal):
        if int(signal) == 0:
            raise InvalidValue(f"invalid signal {signal!r}")
        return
    name = signal.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name not in _SIGNALS:
        raise InvalidValue(f"invalid signal {signal!r}; use a name such as SIGTERM or a number")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds: "1m30s", "1.5h", "300ms"; ValueError when it is not one."""
    body = text
    sign = 1
    if body[:1] in "+-" and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total = 0.0
    position = 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r} (use units h, m, s, ms, us or ns, e.g. 30s)")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return sign * round(total)


def parse_ram_bytes(text: str) -> int:
    """docker/go-units RAMInBytes: "64m", "1.5GiB", "1024"; binary multiples. ValueError otherwise."""
    match = _RAM_SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid size {text!r}")
    unit = "bkmgtp".index(match.group(2).lower() or "b")
    return int(float(match.group(1)) * (1024**unit))


def check_mount(text: str) -> None:
    """Check a --mount as far as possible before expansion: all of it when it holds no variable."""
    if "$" not in text:
        parse_mount(text, lambda word: word)
        return
    for field in _mount_fields(text):
        key, has_value, value = field.partition("=")
        key = key.lower()
        if key not in _MOUNT_KEYS:
            raise InvalidValue(_unknown_mount_key(key, field))
        if key == "from" and re.search(r"\$.", value):
            raise InvalidValue(_FROM_VARIABLE)
        del has_value


def parse_mount(text: str, expand: Callable[[str], str]) -> MountSpec:
    """BuildKit's parseMount: CSV `key=value` fields; values go through `expand` (the stage's scope).

    Raises `InvalidValue`, which the caller turns into a DockerfileError at the instruction's location.
    """
    fields: dict[str, object] = {"type": "bind"}
    readonly_auto = True
    for field in _mount_fields(text):
        key, has_value, value = field.partition("=")
        key = key.lower()
        if not has_value:
            readonly_auto = _mount_flag(fields, key, field) and readonly_auto
            continue
        if key == "from" and re.search(r"\$.", value):
            raise InvalidValue(_FROM_VARIABLE)
        if key != "from":
            value = expand(value)
        if key in ("readonly", "ro", "readwrite", "rw"):
            readonly_auto = False
        _mount_value(fields, key, value, field)
    return _validate_mount(fields, readonly_auto)


def mount_from(text: str) -> str | None:
    """The from= of a --mount as written (the stage or image it reads); None when it has none or the
    fields do not parse (then `parse_mount` reports it)."""
    try:
        fields = _mount_fields(text)
    except InvalidValue:
        return None
    found = None
    for field in fields:
        key, has_value, value = field.partition("=")
        if has_value and key.lower() == "from":
            found = value  # the last one counts, as in parse_mount
    return found


def _mount_fields(text: str) -> list[str]:
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as err:
        raise InvalidValue(f"--mount={text}: failed to parse the comma-separated fields ({err})") from None
    if not rows or not rows[0]:
        raise InvalidValue("--mount needs fields, e.g. --mount=type=cache,target=/root/.cache")
    return rows[0]


def _mount_flag(fields: dict[str, object], key: str, field: str) -> bool:
    """A field without `=`; returns whether readonly is still automatic."""
    if key in ("readonly", "ro"):
        fields["readonly"] = True
        return False
    if key in ("readwrite", "rw"):
        fields["readonly"] = False
        return False
    if key == "required":
        if fields["type"] not in ("secret", "ssh"):
            raise InvalidValue(f"--mount: unexpected key 'required' for mount type {fields['type']!r}")
        fields["required"] = True
        return True
    raise InvalidValue(f"--mount: invalid field {field!r}: it must be a key=value pair")


def _mount_value(fields: dict[str, object], key: str, value: str, field: str) -> None:
    match key:
        case "type":
            kind = value.lower()
            if kind not in _MOUNT_TYPES:
                message = did_you_mean(
                    f"--mount: unsupported mount type {go_quote(value)}", value, _MOUNT_TYPES
                )
                raise InvalidValue(
                    message if message.endswith("?)") else f"{message}; use {', '.join(_MOUNT_TYPES)}"
                )
            fields["type"] = kind
        case "from":
            fields["from_ref"] = value
        case "source" | "src":
            fields["source"] = value
        case "target" | "dst" | "destination":
            fields["target"] = value
        case "readonly" | "ro":
            fields["readonly"] = _parse_go_bool(key, value)
        case "readwrite" | "rw":
            fields["readonly"] = not _parse_go_bool(key, value)
        case "required":
            if fields["type"] not in ("secret", "ssh"):
                raise InvalidValue(f"--mount: unexpected key 'required' for mount type {fields['type']!r}")
            fields["required"] = _parse_go_bool(key, value)
        case "size":
            if fields["type"] != "tmpfs":
                raise InvalidValue(f"--mount: unexpected key 'size' for mount type {fields['type']!r}")
            try:
                fields["size"] = parse_ram_bytes(value)
            except ValueError:
                raise InvalidValue(f"--mount: invalid value for size: {value!r}") from None
        case "id":
            fields["id"] = value
        case "sharing":
            if value.lower() not in _SHARING_MODES:
                message = did_you_mean(
                    f"--mount: unsupported sharing value {go_quote(value)}", value, _SHARING_MODES
                )
                raise InvalidValue(
                    message if message.endswith("?)") else f"{message}; use {', '.join(_SHARING_MODES)}"
                )
            fields["sharing"] = value.lower()
        case "mode":
            fields["mode"] = _parse_unsigned(key, value, base=8)
        case "uid" | "gid":
            fields[key] = _parse_unsigned(key, value, base=10)
        case "env":
            if fields["type"] != "secret":
                raise InvalidValue(f"--mount: unexpected key 'env' for mount type {fields['type']!r}")
            fields["env"] = value
        case _:
            raise InvalidValue(_unknown_mount_key(key, field))


def _unknown_mount_key(key: str, field: str) -> str:
    message = did_you_mean(f"--mount: unexpected key '{key}' in '{field}'", key, _MOUNT_KEYS)
    return message if message.endswith("?)") else f"{message}; keys are {', '.join(_MOUNT_KEYS)}"


def _parse_go_bool(key: str, value: str) -> bool:
    # strconv.ParseBool
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidValue(f"--mount: invalid value for {key}: {value!r}")


def _parse_unsigned(key: str, value: str, *, base: int) -> int:
    try:
        number = int(value, base)
    except ValueError:
        number = -1
    if number < 0 or number > 2**32 - 1 or not value.isdigit():
        raise InvalidValue(f"--mount: invalid value {value!r} for {key}")
    return number


def _validate_mount(fields: dict[str, object], readonly_auto: bool) -> MountSpec:
    kind = fields["type"]
    if kind not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if fields.get(key) is not None:
                raise InvalidValue(f"--mount: {key} not allowed for {kind!r} type mounts")
    if readonly_auto:
        fields["readonly"] = kind not in ("cache", "tmpfs")
    if kind == "secret":
        if fields.get("from_ref"):
            raise InvalidValue("--mount: a secret mount should not have a from")
        if fields.get("sharing"):
            raise InvalidValue("--mount: a secret mount should not define sharing")
        if (
            not fields.get("source")
            and not fields.get("target")
            and not fields.get("id")
            and not fields.get("env")
        ):
            raise InvalidValue("--mount: invalid secret mount: one of id, source, target or env is required")
        if fields.get("source") and fields.get("id"):
            raise InvalidValue("--mount: both source and id can't be set on a secret mount")
    if fields.get("sharing") and kind != "cache":
        raise InvalidValue(f"--mount: sharing is only for cache mounts, not {kind!r}")
    if kind == "tmpfs" and fields.get("from_ref"):
        raise InvalidValue("--mount: a tmpfs mount has no from")
    return MountSpec(**fields)  # type: ignore[arg-type]
