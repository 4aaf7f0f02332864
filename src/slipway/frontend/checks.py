"""Build checks: BuildKit's Dockerfile lint rules (frontend/dockerfile/linter), same names, texts and links.

Each rule is data (`Rule`: name, description, documentation link, the detail's template); a check is a small
function of what the parser or the converter saw. They run where BuildKit runs them:

- on the parsed instructions (`check_parsed`): casing, stage names, MAINTAINER, empty continuation lines,
  definition descriptions;
- on the FROM lines of every stage, once the global ARGs are known (`Linter.stages_split`);
- while the converter dispatches a stage (the other `Linter` methods, called through convert's hooks), with
  values expanded: undefined variables, ENV/LABEL forms, secrets in ARG/ENV, CMD/ENTRYPOINT, WORKDIR,
  EXPOSE, COPY of ignored files, the base image's platform.

What is checked is configured as BuildKit does: the `# check=skip=A,B|all;error=true;experimental=C`
directive or the BUILDKIT_DOCKERFILE_CHECK build argument (which replaces it), and a `# check=...` comment
just above an instruction for the rules about that instruction. Nothing here reads a file or prints.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping, Sequence

import msgspec

from slipway.errors import DockerfileError, ExpansionError, InvalidReference, SourceLocation
from slipway.frontend._check_rules import (
    CONSISTENT_INSTRUCTION_CASING,
    COPY_IGNORED_FILE,
    DUPLICATE_STAGE_NAME,
    EXPOSE_INVALID_FORMAT,
    EXPOSE_PROTO_CASING,
    FROM_AS_CASING,
    FROM_PLATFORM_FLAG_CONST_DISALLOWED,
    INVALID_BASE_IMAGE_PLATFORM,
    INVALID_DEFAULT_ARG_IN_FROM,
    INVALID_DEFINITION_DESCRIPTION,
    JSON_ARGS_RECOMMENDED,
    LEGACY_KEY_VALUE_FORMAT,
    MAINTAINER_DEPRECATED,
    MULTIPLE_INSTRUCTIONS_DISALLOWED,
    NO_EMPTY_CONTINUATION,
    REDUNDANT_TARGET_PLATFORM,
    RESERVED_STAGE_NAME,
    RULES,
    SECRETS_USED_IN_ARG_OR_ENV,
    STAGE_NAME_CASING,
    UNDEFINED_ARG_IN_FROM,
    UNDEFINED_VAR,
    WORKDIR_RELATIVE_PATH,
    Rule,
)
from slipway.frontend._golang import GO_SPACE, go_quote
from slipway.frontend._hooks import ConvertHooks
from slipway.frontend._suggest import suggest
from slipway.frontend.ignore import IgnoreMatcher, clean_path
from slipway.frontend.instructions import (
    ArgDeclaration,
    CmdCommand,
    EntrypointCommand,
    EnvCommand,
    HealthcheckCommand,
    LabelCommand,
    written_keyword,
)
from slipway.frontend.parser import Instruction, ParsedDockerfile
from slipway.frontend.shell import ShellLexer
from slipway.frontend.stages import Platform, StagedDockerfile, global_args, parse_platform
from slipway.image.reference import parse_reference

__all__ = [
    "RULES",
    "CheckConfig",
    "CheckWarning",
    "InvalidCheckOptions",
    "Linter",
    "Rule",
    "check_parsed",
    "linter_for",
    "parse_check_options",
]

CHECK_BUILD_ARG = "BUILDKIT_DOCKERFILE_CHECK"  # configures the checks, replacing the `# check=` directive

_RESERVED_STAGE_NAMES = frozenset({"context", "scratch"})
# Names that look like credentials (whole name, or a first or last _-separated word), unless they also say
# they are public, a file or a version: BuildKit's two expressions, case-insensitive.
_SECRET_WORDS = "apikey|auth|credential|credentials|key|password|pword|passwd|secret|token"


@functools.cache
def _secret_name_pattern() -> re.Pattern[str]:
    return re.compile(rf"(?:_|^)(?:{_SECRET_WORDS})(?:_|\Z)", re.IGNORECASE)


@functools.cache
def _not_secret_name_pattern() -> re.Pattern[str]:
    return re.compile(r"(?:_|^)(?:public|file|version)(?:_|\Z)", re.IGNORECASE)


# Variables BuildKit never reports as undefined: its SBOM switches, which are no environment variables.
_NON_ENV_ARGS = frozenset({"BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"})


# A parser directive in a comment (the comment's text, without its #).
@functools.cache
def _comment_directive_pattern() -> re.Pattern[str]:
    return re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\v\f\r ]*=[\t\n\v\f\r ]*(.+?)[\t\n\v\f\r ]*\Z")


_ROOT_PATTERNS = frozenset({"*", "**", "**/*"})
_SUGGESTION_COMPARISONS = 100_000  # names compared for "did you mean"s in one Dockerfile (under a second)


# ---- configuration ------------------------------------------------------------------------------------


class InvalidCheckOptions(ValueError):
    """A `check` directive or BUILDKIT_DOCKERFILE_CHECK value that does not parse."""


class CheckConfig(msgspec.Struct, frozen=True):
    skip_all: bool = False
    skip: frozenset[str] = frozenset()
    experimental_all: bool = False
    experimental: frozenset[str] = frozenset()
    error: bool = False  # a build with warnings fails

    def enables(self, rule: Rule) -> bool:
        if rule.experimental:
            return self.experimental_all or rule.name in self.experimental
        return not self.skip_all and rule.name not in self.skip

    def merged(self, other: CheckConfig) -> CheckConfig:
        """This configuration with another's skips and experiments added (BuildKit's WithMergedConfig)."""
        return msgspec.structs.replace(
            self,
            skip_all=self.skip_all or other.skip_all,
            skip=self.skip | other.skip,
            experimental_all=self.experimental_all or other.experimental_all,
            experimental=self.experimental | other.experimental,
        )


def parse_check_options(text: str) -> CheckConfig:
    """BuildKit's ParseLintOptions: `skip=A,B|all;experimental=C|all;error=true`."""
    text = text.strip(GO_SPACE)
    if not text:
        return CheckConfig()
    config = CheckConfig()
    for part in text.split(";", 2):
        key, has_value, value = part.partition("=")
        if not has_value:
            raise InvalidCheckOptions(f"invalid check option {go_quote(part)}")
        key, value = key.strip(GO_SPACE), value.strip(GO_SPACE)
        names = frozenset(name.strip(GO_SPACE) for name in value.split(","))
        if key == "skip":
            config = (
                msgspec.structs.replace(config, skip_all=True)
                if value == "all"
                else msgspec.structs.replace(config, skip=names)
            )
        elif key == "experimental":
            all_of_them = value == "all"
            config = (
                msgspec.structs.replace(config, experimental_all=True)
                if all_of_them
                else msgspec.structs.replace(config, experimental=names)
            )
        elif key == "error":
            config = msgspec.structs.replace(config, error=_parse_go_bool(value, part))
        else:
            raise InvalidCheckOptions(f"invalid check option {go_quote(key)}")
    return config


def comment_config(comments: Sequence[str]) -> CheckConfig | None:
    """The configuration of the first `check=` comment among an instruction's comments, if any (what
    follows a blank in its value is a remark, as in `# check=skip=X // why`); one that does not parse is
    ignored, as BuildKit ignores it."""
    for comment in comments:
        match = _comment_directive_pattern().match(comment.lstrip(GO_SPACE))
        if match is None or match[1].lower() != "check":
            continue
        try:
            return parse_check_options(match[2].split(" ", 1)[0])
        except InvalidCheckOptions:
            return None
    return None


def _parse_go_bool(value: str, part: str) -> bool:
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidCheckOptions(
        f"failed to parse check option {go_quote(part)}: strconv.ParseBool: parsing {go_quote(value)}: "
        "invalid syntax"
    )


# ---- warnings -----------------------------------------------------------------------------------------


class CheckWarning(msgspec.Struct, frozen=True):
    rule: Rule
    detail: str
    location: SourceLocation

    @property
    def short(self) -> str:
        """BuildKit's LintFormatShort: what `docker build` lists at the end."""
        return f"{self.rule.name}: {self.detail} (line {self.location.line})"


class _StageFacts(msgspec.Struct):
    """What the stage-scoped rules remember about a stage while it is dispatched."""

    workdir_set: bool = False  # an absolute or relative WORKDIR was set in this build, here or in its base
    last: dict[str, SourceLocation] = msgspec.field(
        default_factory=dict
    )  # CMD/ENTRYPOINT/HEALTHCHECK seen last


class Linter(ConvertHooks):
    """Collects the warnings of one Dockerfile. `config` is the file's (or the build argument's); an
    instruction's `# check=` comment adds to it for the rules about that instruction (`comments` maps an
    instruction's first line to the comments above it). Implements the converter's hooks (_hooks.py)."""

    def __init__(
        self,
        config: CheckConfig,
        comments: Mapping[int, tuple[str, ...]] | None = None,
        exclude: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.warnings: list[CheckWarning] = []
        self._comments = comments or {}
        self._scoped: dict[int, CheckConfig] = {}
        self._ignore = (
            IgnoreMatcher(exclude) if exclude and not any(p.startswith("!") for p in exclude) else None
        )
        self._is_root_ignored = any(pattern in _ROOT_PATTERNS for pattern in exclude)
        self._stages: dict[int, _StageFacts] = {}
        self._called: list[str] = []
        self._comparisons_left = _SUGGESTION_COMPARISONS

    def report(
        self,
        rule: Rule,
        location: SourceLocation,
        *,
        match: str | None = None,
        scope: SourceLocation | None | bool = True,
        **values: str,
    ) -> None:
        """Warn about `rule` at `location`, unless configured off. `scope` is the instruction whose
        `# check=` comment applies (True: the one at `location`; False: none, the file's setting only)."""
        config = self.config
        if scope is not False:
            config = self._config_at(location if scope is True else scope)
        if not config.enables(rule):
            return
        detail = rule.detail.format(**values)
        if match:
            detail += rule.hint.format(match=match)
        self._called.append(rule.name)
        self.warnings.append(CheckWarning(rule, detail, location))

    def suggest(self, name: str, known: Collection[str]) -> str | None:
        """The known name closest to `name`, while the comparisons stay within the budget: each compares with
        every name in scope, so a Dockerfile of thousands of undefined variables among thousands of defined
        ones would otherwise take minutes; its later warnings come without a suggestion."""
        self._comparisons_left -= len(known)
        return suggest(name, known) if self._comparisons_left >= 0 else None

    def error(self) -> str | None:
        """BuildKit's lint error when `error=true` and a rule warned: "lint violation found for rules: ..."."""
        if not self.config.error or not self._called:
            return None
        return "lint violation found for rules: " + ", ".join(sorted(set(self._called)))

    def _config_at(self, location: SourceLocation | None) -> CheckConfig:
        if location is None:
            return self.config
        line = location.line
        config = self._scoped.get(line)
        if config is None:
            found = comment_config(self._comments.get(line, ()))
            config = self.config if found is None else self.config.merged(found)
            self._scoped[line] = config
        return config

    # ---- the converter's hooks -------------------------------------------------------------------------

    def stages_split(
        self,
        staged: StagedDockerfile,
        scope: Mapping[str, str],
        defaults: Mapping[str, str],
        lexer: ShellLexer,
    ) -> None:
        _check_sources(staged, scope, lexer, self)
        try:
            # The base names as the ARG defaults alone make them, --build-arg values left out.
            default_scope = global_args(staged.global_args, defaults, {}, lexer)
        except ExpansionError:
            return  # the converter reports it
        for stage in staged.stages:
            _check_default_base(stage.source.base, default_scope, lexer, self, stage.source.location)

    def stage_started(self, stage: int, parent: int | None) -> None:
        inherited = self._stages.get(parent) if parent is not None else None
        self._stages[stage] = _StageFacts(workdir_set=inherited.workdir_set if inherited else False)

    def base_image(self, name: str, expected: Platform, actual: Platform, location: SourceLocation) -> None:
        if (expected.os, expected.architecture) != (actual.os, actual.architecture):
            self.report(
                INVALID_BASE_IMAGE_PLATFORM,
                location,
                scope=False,
                image=name,
                expected=str(expected),
                actual=str(actual),
            )

    def word_expanded(
        self,
        unmatched: Collection[str],
        scope: Mapping[str, str],
        declared: Collection[str],
        location: SourceLocation,
    ) -> None:
        for name in sorted(unmatched):
            if name in declared or name in _NON_ENV_ARGS:
                continue
            self.report(UNDEFINED_VAR, location, name=name, match=self.suggest(name, scope))

    def arg_declared(
        self, stage: int, declaration: ArgDeclaration, value: str | None, location: SourceLocation
    ) -> None:
        self._check_secret("ARG", declaration.name, location)

    def pairs_set(self, command: EnvCommand | LabelCommand, keys: Collection[str]) -> None:
        instruction = written_keyword(command.original)
        for pair in command.pairs:
            if pair.legacy:
                self.report(LEGACY_KEY_VALUE_FORMAT, command.location, instruction=instruction)
        if isinstance(command, EnvCommand):
            for key in keys:
                self._check_secret("ENV", key, command.location)

    def image_command(
        self, stage: int, command: CmdCommand | EntrypointCommand | HealthcheckCommand, shell: tuple[str, ...]
    ) -> None:
        instruction = written_keyword(command.original)
        facts = self._stage(stage)
        kind = type(command).__name__
        previous = facts.last.get(kind)
        if previous is not None:
            # The earlier instruction is the one that does nothing: BuildKit points at it.
            self.report(
                MULTIPLE_INSTRUCTIONS_DISALLOWED, previous, scope=command.location, instruction=instruction
            )
        facts.last[kind] = command.location
        if isinstance(command, CmdCommand | EntrypointCommand) and command.prepend_shell and not shell:
            self.report(JSON_ARGS_RECOMMENDED, command.location, instruction=instruction)

    def workdir_changed(self, stage: int, path: str, location: SourceLocation) -> None:
        facts = self._stage(stage)
        if not facts.workdir_set and not path.startswith("/"):
            self.report(WORKDIR_RELATIVE_PATH, location, path=path)
        facts.workdir_set = True

    def port_exposed(self, port: str, location: SourceLocation) -> None:
        ip, host_port, container_port = _split_port(port)
        protocol = container_port.partition("/")[2]
        if protocol != protocol.lower():
            self.report(EXPOSE_PROTO_CASING, location, port=port)
        if ip or host_port:
            self.report(EXPOSE_INVALID_FORMAT, location, port=port)

    def context_read(self, keyword: str, source: str, location: SourceLocation) -> None:
        if self._ignore is None:
            return  # no .dockerignore, or one with exceptions: BuildKit does not guess what they re-include
        path = clean_path(source)
        if path in (".", "/"):
            if not self._is_root_ignored or path == "/":
                return
            is_ignored = True  # a pattern that excludes every entry of the context excludes "." too
        else:
            is_ignored = not path.startswith("/") and self._ignore.matches(path)
        if is_ignored:
            self.report(COPY_IGNORED_FILE, location, instruction=keyword.capitalize(), path=path)

    def _check_secret(self, instruction: str, key: str, location: SourceLocation) -> None:
        if _secret_name_pattern().search(key) and not _not_secret_name_pattern().search(key):
            self.report(SECRETS_USED_IN_ARG_OR_ENV, location, instruction=instruction, key=key)

    def _stage(self, stage: int) -> _StageFacts:
        return self._stages.setdefault(stage, _StageFacts())


def linter_for(
    parsed: ParsedDockerfile, build_args: Mapping[str, str], exclude: tuple[str, ...] = ()
) -> Linter:
    """The linter of a build: configured by BUILDKIT_DOCKERFILE_CHECK if it is given (it replaces the file's
    setting), else by the Dockerfile's `# check=` directive; `exclude` is the .dockerignore's patterns."""
    value = build_args.get(CHECK_BUILD_ARG)
    try:
        if value is not None:
            config = parse_check_options(value)
        else:
            config = parse_check_options(dict(parsed.directives).get("check", ""))
    except InvalidCheckOptions as err:
        where = f"build-arg:{CHECK_BUILD_ARG}" if value is not None else "check options"
        raise DockerfileError(f"failed to parse {where}: {err}") from None
    comments = {instruction.location.line: instruction.comments for instruction in parsed.instructions}
    return Linter(config, comments, exclude)


# ---- checks of the parsed instructions ----------------------------------------------------------------


def check_parsed(parsed: ParsedDockerfile, linter: Linter) -> None:
    """The rules BuildKit runs while it parses: on every instruction, in every stage, reachable or not."""
    for line in parsed.empty_continuations:
        linter.report(NO_EMPTY_CONTINUATION, SourceLocation(parsed.path, line, line), scope=False)
    for instruction in parsed.instructions:
        _check_instruction(instruction, linter)
    _check_stage_names(parsed.instructions, linter)
    _check_casing(parsed.instructions, linter)


def _check_instruction(instruction: Instruction, linter: Linter) -> None:
    location = instruction.location
    if instruction.keyword == "maintainer":
        linter.report(MAINTAINER_DEPRECATED, location)
    elif instruction.keyword == "from":
        args = instruction.args
        written = written_keyword(instruction.original)
        if len(args) == 3 and args[2] != args[2].lower():
            linter.report(STAGE_NAME_CASING, location, name=args[2])
        if len(args) >= 3 and written in (written.lower(), written.upper()):
            wanted = args[1].lower() if written == written.lower() else args[1].upper()
            if args[1] != wanted:
                linter.report(FROM_AS_CASING, location, as_=args[1], from_=written)
        if len(args) == 3 and args[1].lower() == "as":
            _check_description(instruction, "FROM", [args[2].lower()], linter)
    elif instruction.keyword == "arg":
        names = [word.partition("=")[0] for word in instruction.args]
        _check_description(instruction, "ARG", names, linter)


def _check_description(instruction: Instruction, keyword: str, names: list[str], linter: Linter) -> None:
    """InvalidDefinitionDescription: the comment right above names what it describes."""
    if not instruction.comments or not names:
        return
    if instruction.comments[-1].split(" ")[0] in names:
        return
    name = names[0] if len(names) == 1 else "<arg_key>"
    linter.report(INVALID_DEFINITION_DESCRIPTION, instruction.location, instruction=keyword, name=name)


def _check_stage_names(instructions: Iterable[Instruction], linter: Linter) -> None:
    seen: set[str] = set()
    for instruction in instructions:
        args = instruction.args
        if instruction.keyword != "from" or len(args) != 3 or args[1].lower() != "as":
            continue
        name = args[2].lower()
        if name in _RESERVED_STAGE_NAMES:
            linter.report(RESERVED_STAGE_NAME, instruction.location, scope=False, name=name)
        if name in seen:
            linter.report(DUPLICATE_STAGE_NAME, instruction.location, scope=False, name=name)
        seen.add(name)


def _check_casing(instructions: Sequence[Instruction], linter: Linter) -> None:
    """ConsistentInstructionCasing over the stages' instructions (the ARGs before the first FROM are not
    counted): each must be all lower or all upper case, as most of them are (upper case on a tie)."""
    first = next(
        (index for index, ins in enumerate(instructions) if ins.keyword == "from"), len(instructions)
    )
    keywords = [(written_keyword(ins.original), ins.location) for ins in instructions[first:]]
    lower = sum(1 for word, _ in keywords if word == word.lower())
    upper = sum(1 for word, _ in keywords if word != word.lower() and word == word.upper())
    is_lower = lower > upper
    for word, location in keywords:
        if is_lower and word != word.lower():
            linter.report(
                CONSISTENT_INSTRUCTION_CASING, location, scope=False, command=word, casing="lowercase"
            )
        elif not is_lower and word != word.upper():
            linter.report(
                CONSISTENT_INSTRUCTION_CASING, location, scope=False, command=word, casing="uppercase"
            )


# ---- checks of the FROM lines -------------------------------------------------------------------------


def _check_sources(
    staged: StagedDockerfile, scope: Mapping[str, str], lexer: ShellLexer, linter: Linter
) -> None:
    """BuildKit's checks of every stage's FROM: ARGs it names that are not declared, a constant or redundant
    --platform."""
    declared = {declaration.name for command in staged.global_args for declaration in command.args}
    known = [*scope, *(name for name in declared if name not in scope)]
    for stage in staged.stages:
        source = stage.source
        _check_from_word(source.base, scope, known, lexer, linter, source.location)
        if source.platform is not None:
            expansion = _check_from_word(source.platform, scope, known, lexer, linter, source.location)
            if expansion is not None:
                _check_platform(source.platform, stage.name or "", expansion, scope, linter, source.location)


def _check_from_word(
    word: str,
    scope: Mapping[str, str],
    known: list[str],
    lexer: ShellLexer,
    linter: Linter,
    location: SourceLocation,
) -> tuple[str, frozenset[str], frozenset[str]] | None:
    try:
        expansion = lexer.expand_reporting(word, scope)
    except ExpansionError:
        return None  # the converter reports it, where the stage is built
    for name in sorted(expansion[2]):
        if name not in known:
            linter.report(UNDEFINED_ARG_IN_FROM, location, name=name, match=linter.suggest(name, known))
    return expansion


def _check_platform(
    written: str,
    stage_name: str,
    expansion: tuple[str, frozenset[str], frozenset[str]],
    scope: Mapping[str, str],
    linter: Linter,
    location: SourceLocation,
) -> None:
    result, matched, unmatched = expansion
    if matched == {"TARGETPLATFORM"} and not unmatched and scope.get("TARGETPLATFORM") == result:
        linter.report(REDUNDANT_TARGET_PLATFORM, location, expression=written)
    if matched or unmatched:
        return
    try:
        platform = parse_platform(result)
    except ValueError:
        return  # an error of its own, where the stage is built
    if platform.os not in stage_name and platform.architecture not in stage_name:
        linter.report(FROM_PLATFORM_FLAG_CONST_DISALLOWED, location, platform=result)


def _check_default_base(
    base: str, defaults: Mapping[str, str], lexer: ShellLexer, linter: Linter, location: SourceLocation
) -> None:
    try:
        name = lexer.expand_word(base, defaults)
        parse_reference(name)
    except ExpansionError:
        return
    except InvalidReference:
        linter.report(INVALID_DEFAULT_ARG_IN_FROM, location, scope=False, base=base)


# ---- small helpers ------------------------------------------------------------------------------------


def _split_port(port: str) -> tuple[str, str, str]:
    """BuildKit's splitParts of an EXPOSE word: (host IP, host port, container port[/protocol])."""
    parts = port.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]
