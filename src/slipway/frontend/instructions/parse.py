"""One parsed `Instruction` to its typed command (BuildKit's instructions/parse.go), with its flags and
arguments checked; every error leaving `parse_command` carries the instruction's location."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from slipway.choices import NETWORK_MODES
from slipway.errors import DockerfileError, DockerfileSyntaxError
from slipway.frontend._golang import GO_SPACE
from slipway.frontend._suggest import did_you_mean
from slipway.frontend.instructions.commands import (
    AddCommand,
    ArgCommand,
    ArgDeclaration,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    FromCommand,
    HealthcheckCommand,
    InlineFile,
    InvalidValue,
    KeyValue,
    LabelCommand,
    MaintainerCommand,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
)
from slipway.frontend.instructions.flags import (
    FlagValue,
    bool_or_none,
    parse_flags,
    string_flag,
    strings_flag,
)
from slipway.frontend.instructions.run_mounts import check_mount
from slipway.frontend.instructions.values import check_chmod, check_signal, parse_duration
from slipway.frontend.parser import Heredoc, Instruction

# BuildKit's validStageName, applied to the lower-cased name.
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")

# BuildKit's heredoc word: optional fd number, <<, optional -, the delimiter word (maybe quoted).
_HEREDOC_WORD = re.compile(r"\d*<<(-?)\s*([^<]+)")


@functools.cache
def _onbuild_prefix_pattern() -> re.Pattern[str]:
    return re.compile(r"^\s*ONBUILD\s*", re.IGNORECASE)


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

_KEYWORD_AS_WRITTEN = re.compile(f"[^{GO_SPACE}]*")

_SECURITIES = ("sandbox", "insecure")

_MINIMUM_INTERVAL = 1_000_000  # BuildKit refuses health check durations under 1ms (0 means inherit)


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
    flags = parse_flags(keyword, instruction.flags)
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
    platform = string_flag(flags, "platform")
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
    network = string_flag(flags, "network")
    if network is not None and network not in NETWORK_MODES:
        raise InvalidValue(f"unsupported network mode {network!r}; use {', '.join(NETWORK_MODES)}")
    security = string_flag(flags, "security")
    if security is not None and security not in _SECURITIES:
        raise InvalidValue(f"unsupported security mode {security!r}; use {', '.join(_SECURITIES)}")
    mounts = strings_flag(flags, "mount")
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
    chmod = string_flag(flags, "chmod")
    if chmod is not None and "$" not in chmod:
        check_chmod(chmod)
    chown = string_flag(flags, "chown")
    link = bool(flags.get("link", False))
    exclude = strings_flag(flags, "exclude")
    loc, text = instruction.location, instruction.original
    if keyword == "copy":
        return CopyCommand(
            location=loc,
            original=text,
            sources=sources,
            inline=inline,
            dest=dest,
            from_ref=string_flag(flags, "from"),
            chown=chown,
            chmod=chmod,
            link=link,
            parents=bool(flags.get("parents", False)),
            exclude=exclude,
        )
    checksum = string_flag(flags, "checksum")
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
        keep_git_dir=bool_or_none(flags, "keep-git-dir"),
        exclude=exclude,
        unpack=bool_or_none(flags, "unpack"),
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
    expression = _onbuild_prefix_pattern().sub("", instruction.original, count=1)
    for heredoc in instruction.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    return OnbuildCommand(
        location=instruction.location, original=instruction.original, expression=expression, trigger=trigger
    )


def upper_keyword(text: str) -> str:
    keyword, space, rest = text.strip().partition(" ")
    return keyword.upper() + space + rest
