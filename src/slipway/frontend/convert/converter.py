"""The converter (BuildKit's dockerfile2llb/convert.go): stages dispatched on demand, in dependency
order; each instruction goes to its module's `dispatch_*` (run, copy, env, config)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import assert_never

import msgspec

from slipway.choices import NETWORK_MODES, NetworkMode
from slipway.epoch import EPOCH_ARG
from slipway.errors import (
    DockerfileError,
    ExpansionError,
    ImageNotFound,
    InvalidReference,
    SourceLocation,
    UsageError,
)
from slipway.frontend._golang import go_list
from slipway.frontend._hooks import ConvertHooks
from slipway.frontend._suggest import did_you_mean, suggest
from slipway.frontend.convert.config import (
    dispatch_cmd,
    dispatch_entrypoint,
    dispatch_expose,
    dispatch_healthcheck,
    dispatch_stopsignal,
    dispatch_user,
    dispatch_volume,
    dispatch_workdir,
)
from slipway.frontend.convert.copy import dispatch_copy
from slipway.frontend.convert.env import dispatch_arg, dispatch_env, dispatch_label
from slipway.frontend.convert.named import named_base, named_source
from slipway.frontend.convert.options import BaseImage, ConvertOptions, ImageResolver
from slipway.frontend.convert.run import dispatch_run
from slipway.frontend.convert.state import StageBase, StageState, initial_state, step_prefix
from slipway.frontend.instructions import (
    AddCommand,
    ArgCommand,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    FromCommand,
    HealthcheckCommand,
    LabelCommand,
    MaintainerCommand,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
    mount_from,
    parse_command,
)
from slipway.frontend.instructions.parse import upper_keyword
from slipway.frontend.named_contexts import NamedContext, find_named_context
from slipway.frontend.parser import ParsedDockerfile, parse_instruction_line
from slipway.frontend.shell import ExpansionBudget, ShellLexer
from slipway.frontend.source_epoch import (
    ContextDates,
    RemoteEpoch,
    StageEpochSource,
    epoch_value,
    resolve_epoch,
)
from slipway.frontend.stages import (
    Platform,
    Stage,
    StagedDockerfile,
    expand_word,
    find_base_stage,
    find_stage,
    global_args,
    parse_platform,
    platform_args,
    select_target,
    split_stages,
)
from slipway.graph.ops import BuildGraph, ContextSource, ImageSource, StagePlan, StepMeta, Vertex
from slipway.image.oci import DEFAULT_SHELL, History
from slipway.image.reference import parse_reference

WINDOWS_SHELL = ("cmd", "/S", "/C")  # BuildKit's default shell for a windows/* stage

HISTORY_COMMENT = "buildkit.dockerfile.v0"

_SCRATCH = "scratch"

# Each stage built FROM another copies its environment and labels and each RUN carries the environment, so a
# Dockerfile of many of them with many variables takes quadratic time and memory: bounded in all, far past
# real ones.
MAX_CARRIED_VARIABLES = 2 * 1024 * 1024


def convert(
    dockerfile: ParsedDockerfile,
    options: ConvertOptions,
    resolver: ImageResolver,
    hooks: ConvertHooks | None = None,
    *,
    all_stages: bool = False,
    remote_epoch: RemoteEpoch | None = None,
) -> BuildGraph:
    """The build graph of `options.target` (or the last stage), holding only the stages it needs (every
    stage with `all_stages`, as BuildKit's checks dispatch them). `hooks` hear what is dispatched;
    `remote_epoch` dates a SOURCE_DATE_EPOCH stage (frontend/source_epoch.py), which is unknown without it."""
    staged = split_stages(dockerfile)
    target = select_target(staged, options.target)
    converter = Converter(staged, options, resolver, target, hooks or ConvertHooks(), remote_epoch)
    plan = converter.stage_plan(target)
    for stage in staged.stages if all_stages else ():
        converter.stage_plan(stage)
    labels = dict(plan.config.config.labels or {})
    labels.update(options.labels)
    if options.labels:
        config = msgspec.structs.replace(plan.config.config, labels=labels)
        plan = msgspec.structs.replace(plan, config=msgspec.structs.replace(plan.config, config=config))
    stages = tuple(
        plan if index == target.index else other for index, other in sorted(converter.plans.items())
    )
    source = converter.epoch_source
    return BuildGraph(
        target=plan,
        stages=stages,
        epoch=converter.epoch,
        epoch_url=source.url if source is not None else None,
    )


class Converter:
    """The state of one `convert` call: options, global ARGs and the stages dispatched so far."""

    def __init__(
        self,
        staged: StagedDockerfile,
        options: ConvertOptions,
        resolver: ImageResolver,
        target: Stage,
        hooks: ConvertHooks,
        remote_epoch: RemoteEpoch | None = None,
    ) -> None:
        self.staged = staged
        self.options = options
        self.resolver = resolver
        budget = ExpansionBudget()  # what all of this Dockerfile's expansions may produce
        self.lexer = ShellLexer(staged.escape, budget=budget)
        # BuildKit expands heredoc bodies with a backslash escape, always.
        self.heredoc_lexer = ShellLexer("\\", budget=budget)
        # BuildKit's step names show the environment's values (processCmdEnv); a budget of their own: a name
        # that cannot be expanded is shown as written.
        self.name_lexer = ShellLexer(staged.escape, raw_quotes=True, skip_unset_env=True)
        self.build_args = dict(options.build_args)
        self.target_platform = _option_platform(options.target_platform, "--platform")
        self.network = _option_network(options.network)
        self.build_platform = _option_platform(options.build_platform, "build platform")
        # BuildKit's TARGETSTAGE: --target as written, else the last stage's name, else "default".
        target_stage = options.target or target.name or "default"
        defaults = platform_args(self.target_platform, self.build_platform, target_stage, self.build_args)
        self.globals = global_args(staged.global_args, defaults, self.build_args, self.lexer)
        self.epoch, self.epoch_source = self._source_date_epoch(remote_epoch)
        self.global_names = frozenset(self.globals)
        self.hooks = hooks
        hooks.stages_split(staged, self.globals, defaults, self.lexer)
        self.plans: dict[int, StagePlan] = {}
        self.finals: dict[int, StageState] = {}
        self.in_progress: set[int] = set()
        self.images: dict[tuple[str, str], BaseImage] = {}
        self.context: Vertex | None = None
        self.carried = 0  # environment variables copied into stages and RUN steps so far

    def _source_date_epoch(self, remote: RemoteEpoch | None) -> tuple[int | None, StageEpochSource | None]:
        """The build's SOURCE_DATE_EPOCH, resolved once; from then on the ARG holds it in seconds (or is
        unset), as BuildKit's setBuildArgValue leaves it."""
        value = epoch_value(self.build_args, self.globals)
        if value is None:
            return None, None
        dates = ContextDates(self.options.context_epoch, self.options.named_contexts)
        epoch, source = resolve_epoch(
            value, self.staged, self.build_args, self.globals, self.lexer, remote, dates
        )
        for scope in (self.build_args, self.globals):
            if EPOCH_ARG in scope and epoch is None:
                del scope[EPOCH_ARG]
            elif EPOCH_ARG in scope:
                scope[EPOCH_ARG] = str(epoch)
        return epoch, source

    def stage_plan(self, stage: Stage) -> StagePlan:
        for needed in self._dispatch_order(stage):
            self.dispatch_stage(needed)
        return self.plans[stage.index]

    def _dispatch_order(self, target: Stage) -> list[Stage]:
        """The stages `target` needs, itself last, each after the stages it names. Dispatched in this order,
        no stage's dispatch recurses into another's, however long a chain of stages a Dockerfile holds."""
        order: list[Stage] = []
        seen: set[int] = set()
        pending: list[tuple[Stage, bool]] = [(target, False)]
        while pending:
            stage, is_expanded = pending.pop()
            if is_expanded:
                order.append(stage)
            elif stage.index not in seen:
                seen.add(stage.index)
                pending.append((stage, True))
                pending.extend(
                    (named, False) for named in self._named_stages(stage) if named.index not in seen
                )
        return order

    def _named_stages(self, stage: Stage) -> list[Stage]:
        """The earlier stages `stage` names (FROM, COPY --from, RUN --mount from=, and so its base stage's
        ONBUILD triggers), as far as they are known before dispatch. A reference that is wrong is left to
        the dispatch, which reports it at its line and in its turn."""
        replacement = self.named(stage.name)
        if replacement is not None:
            kind, value = replacement.kind, replacement.value
            found = self.staged.named.get(value.lower()) if kind == "stage" else None
            return [found] if found is not None and found.index != stage.index else []
        source = stage.source
        try:
            name, _ = expand_word(self.lexer, source.base, self.globals, source.location, "FROM")
            parent = find_base_stage(self.staged, name, stage.index, source.location)
        except DockerfileError:
            return []
        commands = list(stage.commands)
        named = [] if parent is None else [parent]
        if parent is not None:
            with suppress(DockerfileError):
                commands += self._stage_triggers(parent, stage.location)
        for command in commands:
            for reference in _stage_references(command):
                with suppress(DockerfileError):
                    found = find_stage(self.staged, reference, stage.index, stage.location, "")
                    named += [found] if found is not None else []
        return named

    def dispatch_stage(self, stage: Stage) -> StageState:
        done = self.finals.get(stage.index)
        if done is not None:
            return done
        if stage.index in self.in_progress:
            raise DockerfileError(f"stage {stage.display_name!r} depends on itself (a cycle)", stage.location)
        self.in_progress.add(stage.index)
        # A stage named as a --build-context is that context: its own lines never run (BuildKit).
        replacement = self.named(stage.name)
        if replacement is not None:
            base = named_base(self, replacement, self.target_platform, stage.location)
        else:
            base = self._resolve_base(stage)
        self.hooks.stage_started(stage.index, base.parent.stage.index if base.parent is not None else None)
        triggers = self._triggers(stage, base) if replacement is None else []
        state = initial_state(self, stage, base, triggers)
        for trigger in triggers:
            state.onbuild = True
            self._dispatch(state, trigger)
        state.onbuild = False
        for command in stage.commands if replacement is None else ():
            self._dispatch(state, command)
        self.in_progress.discard(stage.index)
        state.finish()
        self.finals[stage.index] = state
        self.plans[stage.index] = self._plan(state)
        return state

    def _plan(self, state: StageState) -> StagePlan:
        history = state.full_history()
        return StagePlan(
            index=state.stage.index,
            name=state.stage.name,
            root=state.root,
            config=msgspec.structs.replace(state.image, history=(), created=None),  # the exporter's
            history=history,
            base_layers=state.base_layers,
            image_layers=state.image_layers,
            location=state.stage.location,
        )

    def _resolve_base(self, stage: Stage) -> StageBase:
        source = stage.source
        name, used = expand_word(self.lexer, source.base, self.globals, source.location, "FROM")
        if not name:
            raise DockerfileError(f"FROM: base name {source.base!r} expands to nothing", source.location)
        platform = self.target_platform
        if source.platform is not None:
            try:
                text, platform_used, unmatched = self.lexer.expand_reporting(source.platform, self.globals)
            except ExpansionError as err:
                raise ExpansionError(f"FROM --platform: {err.message}", source.location) from None
            platform = _parse_platform_at(text, source.platform, source.location, unmatched, self.globals)
            used |= platform_used
        used = frozenset(used & self.global_names)
        parent_stage = find_base_stage(self.staged, name, stage.index, source.location)
        if parent_stage is not None:
            return StageBase(platform=platform, parent=self.dispatch_stage(parent_stage), used=used)
        named = self.named(name)
        if named is not None:
            return msgspec.structs.replace(named_base(self, named, platform, source.location), used=used)
        if name == _SCRATCH:
            return StageBase(platform=platform, used=used)
        image = self.resolve_image(name, platform, source.location, "FROM")
        actual = Platform(image.config.os, image.config.architecture, image.config.variant or "")
        self.hooks.base_image(name, platform, actual, source.location)
        return StageBase(platform=platform, image=image, used=used)

    def named(self, name: str | None) -> NamedContext | None:
        """The --build-context `name` refers to, if any (frontend/named_contexts.py's rule)."""
        return find_named_context(self.options.named_contexts, name) if name else None

    def resolve_image(self, name: str, platform: Platform, location: SourceLocation, what: str) -> BaseImage:
        key = (name, str(platform))
        known = self.images.get(key)
        if known is not None:
            return known
        try:
            parse_reference(name)
        except InvalidReference as err:
            raise DockerfileError(f"{what} {name}: {err}", location) from None
        try:
            image = self.resolver.resolve(name, str(platform))
        except (ImageNotFound, InvalidReference) as err:
            # A mistyped stage name reads as an image that is nowhere: say which stage it looks like.
            stages = [stage.display_name for stage in self.staged.stages]
            raise type(err)(did_you_mean(f"{what} {name}: {err}", name, stages), location) from err
        self.images[key] = image
        return image

    def _triggers(self, stage: Stage, base: StageBase) -> list[Command]:
        """The base's ONBUILD triggers, run first (BuildKit runs a stage base's ONBUILD lines too)."""
        if base.parent is not None:
            return self._stage_triggers(base.parent.stage, stage.location)
        if base.image is None:
            return []
        expressions = base.image.config.config.on_build or ()
        return [self._parse_trigger(expression, base.image.ref, stage.location) for expression in expressions]

    def _stage_triggers(self, parent: Stage, location: SourceLocation) -> list[Command]:
        expressions = [
            command.expression for command in parent.commands if isinstance(command, OnbuildCommand)
        ]
        origin = f"stage {parent.display_name!r}"
        return [self._parse_trigger(expression, origin, location) for expression in expressions]

    def _parse_trigger(self, expression: str, origin: str, location: SourceLocation) -> Command:
        try:
            instruction = parse_instruction_line(expression, location.path, location.line, self.staged.escape)
            command = parse_command(instruction)
        except DockerfileError as err:
            raise DockerfileError(
                f"ONBUILD trigger {expression!r} of {origin}: {err.message}", location
            ) from None
        if isinstance(command, FromCommand | OnbuildCommand | MaintainerCommand):
            raise DockerfileError(
                f"ONBUILD trigger {expression!r} of {origin}: {type(command).__name__[:-7].upper()} "
                "isn't allowed as a trigger",
                location,
            )
        # BuildKit reports a trigger at the FROM line that pulled it in.
        return msgspec.structs.replace(command, location=location)

    def _dispatch(self, state: StageState, command: Command) -> None:
        state.used = set()
        match command:
            case RunCommand():
                dispatch_run(self, state, command)
            case CopyCommand() | AddCommand():
                dispatch_copy(self, state, command)
            case WorkdirCommand():
                dispatch_workdir(self, state, command)
            case EnvCommand():
                dispatch_env(self, state, command)
            case ArgCommand():
                dispatch_arg(self, state, command)
            case LabelCommand():
                dispatch_label(self, state, command)
            case UserCommand():
                dispatch_user(self, state, command)
            case ExposeCommand():
                dispatch_expose(self, state, command)
            case VolumeCommand():
                dispatch_volume(self, state, command)
            case StopSignalCommand():
                dispatch_stopsignal(self, state, command)
            case CmdCommand():
                dispatch_cmd(self, state, command)
            case EntrypointCommand():
                dispatch_entrypoint(self, state, command)
            case HealthcheckCommand():
                dispatch_healthcheck(self, state, command)
            case ShellCommand():
                self.set_config(state, shell=command.shell)
                self.commit(state, f"SHELL {go_list(command.shell)}")
            case OnbuildCommand():
                # BuildKit records the trigger in the config only: ONBUILD adds no history entry.
                self.set_config(state, on_build=(*(state.image.config.on_build or ()), command.expression))
            case MaintainerCommand():
                state.image = msgspec.structs.replace(state.image, author=command.maintainer)
                self.commit(state, f"MAINTAINER {command.maintainer}")
            case FromCommand():
                raise AssertionError("split_stages starts a stage at each FROM")
            case _:
                assert_never(command)

    def source_tree(
        self,
        state: StageState,
        reference: str,
        location: SourceLocation,
        what: str,
        later: Callable[[Stage], str] | None = None,
    ) -> Vertex:
        """The file system a --from / from= names: an earlier stage's, or an image's."""
        stage = find_stage(self.staged, reference, state.stage.index, location, what, later)
        if stage is not None:
            return self.dispatch_stage(stage).root
        named = self.named(reference)
        if named is not None:
            return named_source(self, named, location)
        image = self.resolve_image(reference, self.target_platform, location, what)
        source = ImageSource(
            ref=image.ref, manifest_digest=image.manifest_digest, platform=str(self.target_platform)
        )
        return Vertex(source, meta=StepMeta(name=f"FROM {image.ref}", location=location))

    def context_vertex(self) -> Vertex:
        if self.context is None:
            context = ContextSource(exclude=self.options.exclude)
            self.context = Vertex(context, meta=StepMeta(name="[internal] load build context"))
        return self.context

    def expand(self, state: StageState, word: str, location: SourceLocation, what: str) -> str:
        return self.expand_with(self.lexer, state, word, location, what)

    def expand_with(
        self, lexer: ShellLexer, state: StageState, word: str, location: SourceLocation, what: str
    ) -> str:
        try:
            value, used, unmatched = lexer.expand_reporting(word, state.env)
        except ExpansionError as err:
            raise ExpansionError(f"{what}: {err.message}", location) from None
        state.used |= used & state.arg_names
        if unmatched:
            self.hooks.word_expanded(unmatched, state.env, state.arg_names, location)
        return value

    def expand_optional(
        self, state: StageState, word: str | None, location: SourceLocation, what: str
    ) -> str | None:
        return None if word is None else self.expand(state, word, location, what)

    def with_shell(self, state: StageState, args: tuple[str, ...], prepend_shell: bool) -> tuple[str, ...]:
        if not prepend_shell:
            return args
        shell = state.image.config.shell or (
            WINDOWS_SHELL if state.platform.os == "windows" else DEFAULT_SHELL
        )
        return (*shell, " ".join(args))

    def step_text(self, state: StageState, original: str, location: SourceLocation) -> str:
        """The instruction as progress shows it: expanded like BuildKit's processCmdEnv, keyword upper-cased."""
        try:
            text = self.lexer.expand_word(original, state.env)
        except ExpansionError:
            text = original
        return upper_keyword(text)

    def meta(self, state: StageState, text: str, location: SourceLocation) -> StepMeta:
        state.step += 1
        prefix = step_prefix(state.display, state.step, state.total)
        return StepMeta(
            name=prefix + ("ONBUILD " if state.onbuild else "") + text,
            stage=state.stage.display_name,
            location=location,
            used_args=tuple(sorted(state.used)),
        )

    def carry(self, count: int, location: SourceLocation) -> None:
        self.carried += count
        if self.carried > MAX_CARRIED_VARIABLES:
            raise DockerfileError(
                f"the stages and RUN steps up to here carry more than {MAX_CARRIED_VARIABLES:,} variables and "
                "labels in all (each stage built FROM another copies them, each RUN carries the environment): "
                "use fewer variables, labels, stages or RUN steps",
                location,
            )

    def set_config(self, state: StageState, **changes: object) -> None:
        config = msgspec.structs.replace(state.image.config, **changes)
        state.image = msgspec.structs.replace(state.image, config=config)

    def commit(self, state: StageState, created_by: str, layer: bool = False, buildkit: bool = False) -> None:
        """BuildKit's commitToHistory; `created` is left to the exporter."""
        text = created_by + (" # buildkit" if buildkit else "")
        state.history.append(
            History(created_by=text, comment=HISTORY_COMMENT, empty_layer=None if layer else True)
        )


def _option_platform(text: str, what: str) -> Platform:
    try:
        return parse_platform(text)
    except ValueError as err:
        raise UsageError(f"{what}: {err}") from None


def _option_network(text: str) -> NetworkMode:
    for mode in NETWORK_MODES:
        if text == mode:
            return mode
    raise UsageError(f"--network {text}: unsupported network mode; use {', '.join(NETWORK_MODES)}")


def _parse_platform_at(
    text: str, written: str, location: SourceLocation, unmatched: frozenset[str], scope: dict[str, str]
) -> Platform:
    """FROM --platform's value, in BuildKit's words when it is none: with a "did you mean" for a variable
    that is not set but whose name is close to one that is."""

    def hint() -> str:
        match = next(filter(None, (suggest(name, scope) for name in sorted(unmatched))), None)
        return f" (did you mean {match}?)" if match else ""

    if not text:
        raise DockerfileError(f"empty platform value from expression {written}{hint()}", location)
    try:
        return parse_platform(text)
    except ValueError as err:
        raise DockerfileError(f"failed to parse platform {written}: {err}{hint()}", location) from None


def _stage_references(command: Command) -> list[str]:
    """What a command's --from / from= name as written: stages or images."""
    if isinstance(command, CopyCommand) and command.from_ref is not None:
        return [command.from_ref]
    if isinstance(command, RunCommand):
        return [reference for reference in map(mount_from, command.mounts) if reference]
    return []
