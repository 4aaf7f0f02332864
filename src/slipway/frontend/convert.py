"""A parsed Dockerfile to the build graph, by BuildKit's dockerfile2llb rules.

`convert(dockerfile, options, resolver)` types the instructions, splits the stages, picks the target and
dispatches only the stages the target needs (through FROM <stage>, COPY --from and RUN --mount from=),
each on demand: a stage nobody needs is never dispatched, so its base image is never even resolved.
One `_dispatch_*` per instruction applies it to the stage's state: file-system steps become vertices
(Exec, Copy, Mkdir), the rest edit the stage's image config; every instruction adds BuildKit's history
entry. Base images come from the resolver passed in; nothing here reads a disk or the network.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Protocol, assert_never
from urllib.parse import urlsplit

import msgspec

from slipway.choices import DEFAULT_PLATFORM, NETWORK_HOST, NETWORK_MODES, SECURITY_INSECURE, NetworkMode
from slipway.errors import (
    DockerfileError,
    ExpansionError,
    ImageNotFound,
    InvalidReference,
    SourceLocation,
    UsageError,
)
from slipway.frontend._golang import go_quote
from slipway.frontend._hooks import ConvertHooks
from slipway.frontend._suggest import did_you_mean, suggest
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
    InlineFile,
    InvalidValue,
    LabelCommand,
    MaintainerCommand,
    MountSpec,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
    check_chmod,
    check_signal,
    heredoc_name,
    mount_from,
    parse_command,
    parse_mount,
)
from slipway.frontend.parser import ParsedDockerfile, parse_instruction_line
from slipway.frontend.shell import ExpansionBudget, ShellLexer
from slipway.frontend.stages import (
    Platform,
    Stage,
    StagedDockerfile,
    declare_arg,
    expand_word,
    find_base_stage,
    find_stage,
    global_args,
    parse_platform,
    platform_args,
    proxy_env,
    select_target,
    split_stages,
)
from slipway.graph.ops import (
    BuildGraph,
    ContextSource,
    Copy,
    Exec,
    GitSource,
    HistoryChain,
    HttpSource,
    ImageSource,
    InlineSource,
    Mkdir,
    RunMount,
    ScratchSource,
    StagePlan,
    StepMeta,
    Vertex,
)
from slipway.image.oci import ContainerConfig, Digest, Healthcheck, History, ImageConfig, RootFS
from slipway.image.reference import parse_reference

__all__ = ["BaseImage", "ConvertOptions", "ImageResolver", "convert"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
HISTORY_COMMENT = "buildkit.dockerfile.v0"
_SCRATCH = "scratch"
# Each stage built FROM another copies its environment and labels and each RUN carries the environment, so a
# Dockerfile of many of them with many variables takes quadratic time and memory: bounded in all, far past
# real ones.
MAX_CARRIED_VARIABLES = 2 * 1024 * 1024
_PIPES = "/dev/pipes/"  # where BuildKit mounts a RUN heredoc that starts with #!
_GIT_URL = re.compile(r"(git@[^:/]+:|git://|ssh://)|https?://[^#?]+\.git(?:[#?].*)?\Z")
# BuildKit's build arg for the RUN containers' host name (its default is "buildkitsandbox").
SANDBOX_HOSTNAME_ARG = "BUILDKIT_SANDBOX_HOSTNAME"
_DIGEST = re.compile(r"(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})")


class BaseImage(msgspec.Struct, frozen=True):
    ref: str  # normalized reference as the store knows it
    manifest_digest: Digest
    config: (
        ImageConfig  # the base image's full config (env, cmd, history, onbuild triggers, rootfs.diff_ids ...)
    )


class ImageResolver(Protocol):
    """Answers what an image reference is, for FROM and COPY --from / RUN --mount from=<image>."""

    def resolve(self, ref: str, platform: str) -> BaseImage: ...  # ImageNotFound; `ref` as written, expanded


class ConvertOptions(msgspec.Struct, frozen=True):
    dockerfile: str = "Dockerfile"  # the path shown in errors and step names
    target: str | None = None  # --target (stage name, case-insensitive)
    build_args: tuple[tuple[str, str], ...] = ()  # --build-arg K=V
    labels: tuple[tuple[str, str], ...] = ()  # --label K=V, applied to the target's config
    target_platform: str = DEFAULT_PLATFORM
    build_platform: str = DEFAULT_PLATFORM
    network: str = "default"  # --network: default for RUNs without --network
    exclude: tuple[str, ...] = ()  # .dockerignore patterns, carried into ContextSource.exclude
    entitlements: frozenset[str] = frozenset()  # --allow: what steps may be granted (choices.ENTITLEMENTS)


def convert(
    dockerfile: ParsedDockerfile,
    options: ConvertOptions,
    resolver: ImageResolver,
    hooks: ConvertHooks | None = None,
    *,
    all_stages: bool = False,
) -> BuildGraph:
    """The build graph of `options.target` (or the last stage), holding only the stages it needs (every
    stage with `all_stages`, as BuildKit's checks dispatch them). `hooks` hear what is dispatched."""
    staged = split_stages(dockerfile)
    target = select_target(staged, options.target)
    converter = _Converter(staged, options, resolver, target, hooks or ConvertHooks())
    plan = converter.stage_plan(target)
    for stage in staged.stages if all_stages else ():
        converter.stage_plan(stage)
    labels = dict(plan.config.config.labels or {})
    labels.update(options.labels)
    if options.labels:
        config = msgspec.structs.replace(plan.config.config, labels=labels)
        plan = dataclasses.replace(plan, config=msgspec.structs.replace(plan.config, config=config))
    stages = tuple(
        plan if index == target.index else other for index, other in sorted(converter.plans.items())
    )
    return BuildGraph(target=plan, stages=stages)


@dataclass(slots=True)
class _StageState:
    """One stage while its instructions are applied; a FROM <stage> starts from a copy of another's."""

    stage: Stage
    display: str  # the stage in step names ("" when the Dockerfile has one stage, as BuildKit shows it)
    platform: Platform
    root: Vertex
    image: ImageConfig  # created and rootfs are the exporter's; history is kept in `history`
    inherited: Sequence[History]  # the history the stage starts from: its base image's or stage's, shared
    history: list[History]  # the stage's own entries
    env: dict[str, str]  # what RUN sees and words expand with: the image's Env plus the ARGs set so far
    workdir: str
    user: str
    args: list[tuple[str, str | None]]  # the ARGs declared, in order (BuildKit's buildArgs)
    arg_names: set[str]  # the names in `args`: a lookup per expanded word must not scan them all
    layers: int  # layers under `root`
    base_layers: int
    cmd_set: bool = False  # a CMD in this stage: ENTRYPOINT keeps it
    step: int = 0
    total: int = 0
    onbuild: bool = False  # dispatching a base image's ONBUILD trigger
    used: set[str] = field(default_factory=set)  # ARGs the current step used
    # The image Env (and its names' positions) and Labels while ENVs and LABELs edit them: made at the stage's
    # first edit and put in `image` when it ends, so an instruction costs its own pairs, not the whole field.
    config_env: list[str] | None = None
    env_positions: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] | None = None

    def finish(self) -> None:
        """Put the Env and Labels that ENVs and LABELs edited into the image config."""
        config = self.image.config
        if self.config_env is not None:
            config = msgspec.structs.replace(config, env=tuple(self.config_env))
        if self.labels is not None:
            config = msgspec.structs.replace(config, labels=self.labels)
        self.image = msgspec.structs.replace(self.image, config=config)
        self.config_env = self.labels = None

    def full_history(self) -> HistoryChain:
        return HistoryChain(self.inherited, tuple(self.history))

    def copy_for(self, stage: Stage, display: str) -> _StageState:
        return _StageState(
            stage=stage,
            display=display,
            platform=self.platform,
            root=self.root,
            image=self.image,
            inherited=self.full_history(),
            history=[],
            env=dict(self.env),
            workdir=self.workdir,
            user=self.user,
            args=list(self.args),
            arg_names=set(self.arg_names),
            layers=self.layers,
            base_layers=self.layers,
        )


class _Base(msgspec.Struct, frozen=True):
    """What a stage starts from: scratch, an image or an earlier stage."""

    platform: Platform
    image: BaseImage | None = None
    parent: _StageState | None = None
    used: frozenset[str] = frozenset()


class _Converter:
    """The state of one `convert` call: options, global ARGs and the stages dispatched so far."""

    def __init__(
        self,
        staged: StagedDockerfile,
        options: ConvertOptions,
        resolver: ImageResolver,
        target: Stage,
        hooks: ConvertHooks,
    ) -> None:
        self.staged = staged
        self.options = options
        self.resolver = resolver
        budget = ExpansionBudget()  # what all of this Dockerfile's expansions may produce
        self.lexer = ShellLexer(staged.escape, budget=budget)
        # BuildKit expands heredoc bodies with a backslash escape, always.
        self.heredoc_lexer = ShellLexer("\\", budget=budget)
        self.build_args = dict(options.build_args)
        self.target_platform = _option_platform(options.target_platform, "--platform")
        self.network = _option_network(options.network)
        build_platform = _option_platform(options.build_platform, "build platform")
        defaults = platform_args(self.target_platform, build_platform, target.name or "", self.build_args)
        self.globals = global_args(staged.global_args, defaults, self.build_args, self.lexer)
        self.global_names = frozenset(self.globals)
        self.hooks = hooks
        hooks.stages_split(staged, self.globals, defaults, self.lexer)
        self.plans: dict[int, StagePlan] = {}
        self.finals: dict[int, _StageState] = {}
        self.in_progress: set[int] = set()
        self.images: dict[tuple[str, str], BaseImage] = {}
        self.context: Vertex | None = None
        self.carried = 0  # environment variables copied into stages and RUN steps so far

    # ---- stages ---------------------------------------------------------------------------------------

    def stage_plan(self, stage: Stage) -> StagePlan:
        for needed in self._dispatch_order(stage):
            self._dispatch_stage(needed)
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

    def _dispatch_stage(self, stage: Stage) -> _StageState:
        done = self.finals.get(stage.index)
        if done is not None:
            return done
        if stage.index in self.in_progress:
            raise DockerfileError(f"stage {stage.display_name!r} depends on itself (a cycle)", stage.location)
        self.in_progress.add(stage.index)
        base = self._resolve_base(stage)
        self.hooks.stage_started(stage.index, base.parent.stage.index if base.parent is not None else None)
        triggers = self._triggers(stage, base)
        state = self._initial_state(stage, base, triggers)
        for trigger in triggers:
            state.onbuild = True
            self._dispatch(state, trigger)
        state.onbuild = False
        for command in stage.commands:
            self._dispatch(state, command)
        self.in_progress.discard(stage.index)
        state.finish()
        self.finals[stage.index] = state
        self.plans[stage.index] = self._plan(state)
        return state

    def _plan(self, state: _StageState) -> StagePlan:
        history = state.full_history()
        return StagePlan(
            index=state.stage.index,
            name=state.stage.name,
            root=state.root,
            config=msgspec.structs.replace(state.image, history=(), created=None),  # the exporter's
            history=history,
            base_layers=state.base_layers,
            location=state.stage.location,
        )

    def _resolve_base(self, stage: Stage) -> _Base:
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
            return _Base(platform=platform, parent=self._dispatch_stage(parent_stage), used=used)
        if name == _SCRATCH:
            return _Base(platform=platform, used=used)
        image = self._resolve_image(name, platform, source.location, "FROM")
        actual = Platform(image.config.os, image.config.architecture, image.config.variant or "")
        self.hooks.base_image(name, platform, actual, source.location)
        return _Base(platform=platform, image=image, used=used)

    def _resolve_image(self, name: str, platform: Platform, location: SourceLocation, what: str) -> BaseImage:
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

    def _triggers(self, stage: Stage, base: _Base) -> list[Command]:
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

    def _initial_state(self, stage: Stage, base: _Base, triggers: list[Command]) -> _StageState:
        display = stage.display_name if len(self.staged.stages) > 1 else ""
        total = len(triggers) + sum(
            isinstance(c, RunCommand | CopyCommand | AddCommand | WorkdirCommand) for c in stage.commands
        )
        if base.parent is not None:
            self._carry(len(base.parent.env) + len(base.parent.args), stage.location)
            state = base.parent.copy_for(stage, display)
            state.image = msgspec.structs.replace(
                state.image, config=msgspec.structs.replace(state.image.config, on_build=None)
            )
            state.total = total
            return state
        if base.image is None:
            image = _scratch_image(base.platform)
            meta = StepMeta(
                name=f"[{stage.display_name}] FROM scratch", stage=stage.display_name, location=stage.location
            )
            root = Vertex(ScratchSource(), meta=meta)
            return self._fresh_state(stage, display, base, image, root, 0, total)
        total += 1
        image = base.image.config
        root = Vertex(
            ImageSource(
                ref=base.image.ref, manifest_digest=base.image.manifest_digest, platform=str(base.platform)
            ),
            meta=StepMeta(
                name=_step_prefix(display, 1, total) + f"FROM {base.image.ref}",
                stage=stage.display_name,
                location=stage.location,
                used_args=tuple(sorted(base.used)),
            ),
        )
        state = self._fresh_state(stage, display, base, image, root, _layer_count(image), total)
        state.step = 1
        return state

    def _fresh_state(
        self,
        stage: Stage,
        display: str,
        base: _Base,
        image: ImageConfig,
        root: Vertex,
        layers: int,
        total: int,
    ) -> _StageState:
        container = image.config
        env = list(container.env or ())
        if not any(item.partition("=")[0] == "PATH" for item in env):
            env.append(f"PATH={DEFAULT_PATH}")  # BuildKit makes sure PATH is always set
        image = msgspec.structs.replace(
            image, created=None, config=msgspec.structs.replace(container, env=tuple(env), on_build=None)
        )
        return _StageState(
            stage=stage,
            display=display,
            platform=base.platform,
            root=root,
            image=image,
            inherited=image.history,
            history=[],
            env=dict(item.partition("=")[::2] for item in env),
            workdir=container.working_dir or "/",
            user=container.user or "",
            args=[],
            arg_names=set(),
            layers=layers,
            base_layers=layers,
            total=total,
        )

    # ---- instructions ---------------------------------------------------------------------------------

    def _dispatch(self, state: _StageState, command: Command) -> None:
        state.used = set()
        match command:
            case RunCommand():
                self._dispatch_run(state, command)
            case CopyCommand() | AddCommand():
                self._dispatch_copy(state, command)
            case WorkdirCommand():
                self._dispatch_workdir(state, command)
            case EnvCommand():
                self._dispatch_env(state, command)
            case ArgCommand():
                self._dispatch_arg(state, command)
            case LabelCommand():
                self._dispatch_label(state, command)
            case UserCommand():
                self._dispatch_user(state, command)
            case ExposeCommand():
                self._dispatch_expose(state, command)
            case VolumeCommand():
                self._dispatch_volume(state, command)
            case StopSignalCommand():
                self._dispatch_stopsignal(state, command)
            case CmdCommand():
                self._dispatch_cmd(state, command)
            case EntrypointCommand():
                self._dispatch_entrypoint(state, command)
            case HealthcheckCommand():
                self._dispatch_healthcheck(state, command)
            case ShellCommand():
                self._set_config(state, shell=command.shell)
                self._commit(state, f"SHELL {_go_list(command.shell)}")
            case OnbuildCommand():
                # BuildKit records the trigger in the config only: ONBUILD adds no history entry.
                self._set_config(state, on_build=(*(state.image.config.on_build or ()), command.expression))
            case MaintainerCommand():
                state.image = msgspec.structs.replace(state.image, author=command.maintainer)
                self._commit(state, f"MAINTAINER {command.maintainer}")
            case FromCommand():
                raise AssertionError("split_stages starts a stage at each FROM")
            case _:
                assert_never(command)

    def _dispatch_user(self, state: _StageState, command: UserCommand) -> None:
        user = self._expand(state, command.user, command.location, "USER")
        state.user = user
        self._set_config(state, user=user)
        self._commit(state, f"USER {user}")

    def _dispatch_cmd(self, state: _StageState, command: CmdCommand) -> None:
        self.hooks.image_command(state.stage.index, command, state.image.config.shell or ())
        args = self._with_shell(state, command.command, command.prepend_shell)
        state.cmd_set = True
        self._set_config(state, cmd=args, args_escaped=True)
        self._commit(state, f"CMD {_go_quoted_list(args)}")

    def _dispatch_run(self, state: _StageState, run: RunCommand) -> None:
        if run.security == "insecure" and SECURITY_INSECURE not in self.options.entitlements:
            raise DockerfileError(
                f"RUN --security=insecure: entitlement {SECURITY_INSECURE} is not allowed; it runs the step with "
                f"every capability, so only the build's caller can grant it: slipway build --allow {SECURITY_INSECURE}",
                run.location,
            )
        network = _network(run.network) if run.network is not None else self.network
        if network == "host" and NETWORK_HOST not in self.options.entitlements:
            asked = "RUN --network=host" if run.network is not None else "build --network host"
            raise DockerfileError(
                f"{asked}: entitlement {NETWORK_HOST} is not allowed; only the build's caller can grant the "
                f"host's network to a step: slipway build --allow {NETWORK_HOST}",
                run.location,
            )
        inputs: list[Vertex] = [state.root]
        mounts: list[RunMount] = []
        args, summary = self._run_args(state, run, inputs, mounts)
        ssh_count = 0
        for text in run.mounts:
            spec = self._parse_mount(state, text, run.location)
            mounts.append(self._run_mount(state, spec, inputs, ssh_count, run.location))
            ssh_count += spec.type == "ssh"
        self._carry(len(state.env), run.location)
        env = tuple(f"{name}={value}" for name, value in state.env.items())
        state.used |= {name for name, value in state.args if value is not None and name in state.env}
        exec_op = Exec(
            args=tuple(args),
            env=env + proxy_env(self.build_args, state.env),
            cwd=state.workdir or "/",
            user=state.user,
            network=network,
            security="insecure" if run.security == "insecure" else "sandbox",
            mounts=tuple(mounts),
            hostname=self.build_args.get(SANDBOX_HOSTNAME_ARG) or None,
        )
        name = _upper_keyword(run.original) + (f" ({summary})" if summary else "")
        state.root = Vertex(exec_op, inputs=tuple(inputs), meta=self._meta(state, name, run.location))
        state.layers += 1
        self._commit(
            state, f"RUN {_run_command_string(args, state.args, state.env)}", layer=True, buildkit=True
        )

    def _run_args(
        self, state: _StageState, run: RunCommand, inputs: list[Vertex], mounts: list[RunMount]
    ) -> tuple[tuple[str, ...], str]:
        """RUN's argv; heredocs the way BuildKit runs them. Also the step-name summary of a heredoc."""
        args = list(run.command)
        summary = ""
        if run.heredocs:
            if len(args) != 1 or not run.prepend_shell:
                raise DockerfileError("RUN: a here-document needs the shell form", run.location)
            first = run.heredocs[0]
            if heredoc_name(args[0]) is None:
                # Several heredocs or a command around one: the shell reads the whole text.
                args = [args[0] + "".join(f"\n{heredoc.content}{heredoc.name}" for heredoc in run.heredocs)]
            elif first.content.startswith("#!"):
                script = Vertex(InlineSource(files=((first.name, first.content, 0o755),)))
                mounts.append(
                    RunMount(type="bind", target=_PIPES, source="/", input=_input_index(inputs, script))
                )
                args = [_PIPES + first.name]
                summary = _summarize(first.content)
            else:
                args = [first.content]
                summary = _summarize(first.content)
        return self._with_shell(state, tuple(args), run.prepend_shell), summary

    def _parse_mount(self, state: _StageState, text: str, location: SourceLocation) -> MountSpec:
        try:
            return parse_mount(text, lambda word: self._expand(state, word, location, "RUN --mount"))
        except InvalidValue as err:
            raise DockerfileError(f"RUN: {err}", location) from None

    def _run_mount(
        self,
        state: _StageState,
        spec: MountSpec,
        inputs: list[Vertex],
        ssh_count: int,
        location: SourceLocation,
    ) -> RunMount:
        """BuildKit's dispatchRunMounts for one mount, with its defaults filled in."""
        if spec.type == "secret":
            secret_id = spec.source or spec.id or posixpath.basename(spec.target.rstrip("/"))
            target = spec.target or ("" if spec.env else f"/run/secrets/{posixpath.basename(secret_id)}")
            return RunMount(
                type="secret",
                target=target,
                id=secret_id,
                mode=0o400 if spec.mode is None else spec.mode,
                uid=spec.uid,
                gid=spec.gid,
                required=spec.required,
                env=spec.env,
            )
        if spec.type == "ssh":
            return RunMount(
                type="ssh",
                target=spec.target or f"/run/buildkit/ssh_agent.{ssh_count}",
                id=spec.id or "default",
                mode=0o600 if spec.mode is None else spec.mode,
                uid=spec.uid,
                gid=spec.gid,
                required=spec.required,
            )
        target = _join_path(state.workdir, spec.target)
        if target == "/":
            raise DockerfileError(f"RUN --mount: invalid mount target {spec.target or '/'!r}", location)
        source_vertex = self._mount_source(state, spec, location)
        return RunMount(
            type=spec.type,
            target=target,
            source=_join_path("/", spec.source),
            input=None if source_vertex is None else _input_index(inputs, source_vertex),
            readonly=spec.readonly,
            id=(spec.id or target) if spec.type == "cache" else None,
            sharing=spec.sharing or "shared",
            mode=spec.mode,
            uid=spec.uid,
            gid=spec.gid,
            size=spec.size,
        )

    def _mount_source(self, state: _StageState, spec: MountSpec, location: SourceLocation) -> Vertex | None:
        if spec.type == "tmpfs":
            return None
        if spec.from_ref:
            return self._source_tree(
                state,
                spec.from_ref,
                location,
                f"RUN --mount from={spec.from_ref}",
                lambda stage: (
                    f"cannot mount from stage {go_quote(spec.from_ref)} to {go_quote(spec.target)}, "
                    "stage needs to be defined before current command"
                ),
            )
        return self._context_vertex() if spec.type == "bind" else None

    def _dispatch_copy(self, state: _StageState, command: CopyCommand | AddCommand) -> None:
        is_add = isinstance(command, AddCommand)
        keyword = "ADD" if is_add else "COPY"
        location = command.location
        sources = tuple(self._expand(state, source, location, keyword) for source in command.sources)
        dest_written = self._expand(state, command.dest, location, keyword)
        chown = self._expand_optional(state, command.chown, location, f"{keyword} --chown")
        chmod = self._expand_optional(state, command.chmod, location, f"{keyword} --chmod")
        if chmod is not None:
            _check_value(check_chmod, chmod, location, keyword)
        exclude = tuple(
            self._expand(state, pattern, location, f"{keyword} --exclude") for pattern in command.exclude
        )
        if len(sources) + len(command.inline) > 1 and not dest_written.endswith("/"):
            raise DockerfileError(
                f"When using {keyword} with more than one source file, the destination must be a directory "
                f"and end with a / (got {dest_written!r})",
                location,
            )
        copy = Copy(
            sources=(),
            dest=_dest_path(state.workdir, dest_written),
            chown=chown,
            chmod=chmod,
            link=command.link,
            parents=isinstance(command, CopyCommand) and command.parents,
            exclude=exclude,
            is_add=is_add,
            unpack=command.unpack if isinstance(command, AddCommand) else None,
        )
        tree, changes = self._copy_source(state, command, sources, location)
        meta = self._meta(state, self._step_text(state, command.original, location), location)
        op = msgspec.structs.replace(copy, **changes)
        state.root = Vertex(op, inputs=(state.root, tree), meta=meta)
        state.layers += 1
        self._commit(state, _copy_message(keyword, command, sources, chown, chmod, dest_written), True, True)

    def _copy_source(
        self,
        state: _StageState,
        command: CopyCommand | AddCommand,
        sources: tuple[str, ...],
        location: SourceLocation,
    ) -> tuple[Vertex, dict[str, object]]:
        """The tree one COPY/ADD reads from, and what its Copy op takes from it.

        One instruction is one Copy vertex (one layer, one history entry), so its sources must come from
        one tree: paths of the context or --from, one URL, one git repository, or here-documents.
        """
        keyword = "ADD" if isinstance(command, AddCommand) else "COPY"
        remotes = [(source, self._remote_source(command, source, location)) for source in sources]
        kinds = {"remote " + source if remote else "local" for source, remote in remotes}
        if command.inline:
            kinds.add("here-document")
        if len(kinds) > 1:
            raise DockerfileError(
                f"{keyword} reads from several places at once ({', '.join(sorted(kinds))}); slipway needs one "
                f"{keyword} per URL, git repository or kind of source: split the instruction",
                location,
            )
        if command.inline:
            files = tuple(
                (inline.name, self._inline_content(state, inline, location, keyword), 0o644)
                for inline in command.inline
            )
            names = tuple(inline.name for inline in command.inline)
            return Vertex(InlineSource(files=files)), {"sources": names, "unpack": False}
        remote = remotes[0][1] if remotes else None
        if remote is not None:
            return remote
        if isinstance(command, AddCommand) and command.checksum is not None:
            raise DockerfileError("ADD --checksum needs an HTTP(S) or git source", location)
        return self._copy_tree(state, command, sources, location), {"sources": sources}

    def _copy_tree(
        self,
        state: _StageState,
        command: CopyCommand | AddCommand,
        sources: tuple[str, ...],
        location: SourceLocation,
    ) -> Vertex:
        if isinstance(command, CopyCommand) and command.from_ref is not None:
            reference = command.from_ref
            try:
                literal = self.lexer.expand_word(reference, {})
            except ExpansionError:
                literal = ""
            if literal != reference:
                raise DockerfileError(
                    "variable expansion is not supported for --from, define a new stage with FROM using ARG "
                    "from global scope as a workaround",
                    location,
                )
            return self._source_tree(
                state,
                reference,
                location,
                f"COPY --from={reference}",
                lambda stage: (
                    f"cannot copy from stage {go_quote(reference)}, it needs to be defined before "
                    f"current stage {go_quote(state.stage.display_name)}"
                ),
            )
        for source in sources:
            self.hooks.context_read("ADD" if isinstance(command, AddCommand) else "COPY", source, location)
        return self._context_vertex()

    def _remote_source(
        self, command: CopyCommand | AddCommand, source: str, location: SourceLocation
    ) -> tuple[Vertex, dict[str, object]] | None:
        """ADD's URL and git sources (COPY refuses them); None for a path in the source tree."""
        is_git = _GIT_URL.match(source) is not None
        is_http = not is_git and source.startswith(("http://", "https://"))
        if not is_git and not is_http:
            return None
        if isinstance(command, CopyCommand):
            kind = "a git repository" if is_git else "a URL"
            raise DockerfileError(f"COPY: source {source!r} is {kind}; use ADD for remote sources", location)
        if is_git:
            url, _, fragment = source.partition("#")
            ref, _, subdirectory = fragment.partition(":")
            git = GitSource(url=url, ref=ref or None, keep_git_dir=bool(command.keep_git_dir))
            return Vertex(git), {"sources": (subdirectory.strip("/") or ".",), "unpack": False}
        checksum = command.checksum
        if checksum is not None and not _DIGEST.fullmatch(checksum):
            raise DockerfileError(f"ADD --checksum={checksum}: expected sha256:<64 hex digits>", location)
        filename = posixpath.basename(urlsplit(source).path) or "__unnamed__"
        if filename in (".", "/"):
            filename = "__unnamed__"
        http = HttpSource(url=source, filename=filename, checksum=checksum)
        # Remote files are not unpacked unless --unpack says so (docker docs, ADD).
        return Vertex(http), {"sources": (filename,), "unpack": bool(command.unpack)}

    def _inline_content(
        self, state: _StageState, inline: InlineFile, location: SourceLocation, what: str
    ) -> str:
        if not inline.expand:
            return inline.content
        # BuildKit expands a heredoc with quotes left as they are: escape them for the word lexer.
        escaped = _escape_quotes(inline.content, self.heredoc_lexer.escape)
        return self._expand_with(self.heredoc_lexer, state, escaped, location, what)

    def _source_tree(
        self,
        state: _StageState,
        reference: str,
        location: SourceLocation,
        what: str,
        later: Callable[[Stage], str] | None = None,
    ) -> Vertex:
        """The file system a --from / from= names: an earlier stage's, or an image's."""
        stage = find_stage(self.staged, reference, state.stage.index, location, what, later)
        if stage is not None:
            return self._dispatch_stage(stage).root
        image = self._resolve_image(reference, self.target_platform, location, what)
        source = ImageSource(
            ref=image.ref, manifest_digest=image.manifest_digest, platform=str(self.target_platform)
        )
        return Vertex(source, meta=StepMeta(name=f"FROM {image.ref}", location=location))

    def _context_vertex(self) -> Vertex:
        if self.context is None:
            context = ContextSource(exclude=self.options.exclude)
            self.context = Vertex(context, meta=StepMeta(name="[internal] load build context"))
        return self.context

    def _dispatch_workdir(self, state: _StageState, command: WorkdirCommand) -> None:
        path = self._expand(state, command.path, command.location, "WORKDIR")
        self.hooks.workdir_changed(state.stage.index, path, command.location)
        workdir = _join_path(state.workdir, path)
        state.workdir = workdir
        self._set_config(state, working_dir=workdir)
        if workdir == "/":
            self._commit(state, f"WORKDIR {workdir}")
            return
        meta = self._meta(state, self._step_text(state, command.original, command.location), command.location)
        state.root = Vertex(Mkdir(path=workdir, chown=state.user or None), inputs=(state.root,), meta=meta)
        state.layers += 1
        self._commit(state, f"WORKDIR {workdir}", layer=True)

    def _dispatch_env(self, state: _StageState, command: EnvCommand) -> None:
        # Every pair expands with the environment from before the instruction, as in Docker.
        pairs = [
            (
                self._expand(state, pair.key, command.location, "ENV"),
                self._expand(state, pair.value, command.location, "ENV"),
            )
            for pair in command.pairs
        ]
        for key, value in pairs:
            if not key:
                raise DockerfileError("ENV: names can not be blank", command.location)
            state.env[key] = value
        if state.config_env is None:
            self._carry(len(state.image.config.env or ()), command.location)
            state.config_env = list(state.image.config.env or ())
            state.env_positions = _env_positions(state.config_env)
        _add_env(state.config_env, state.env_positions, pairs)
        self.hooks.pairs_set(command, [key for key, _ in pairs])
        self._commit(state, "ENV " + " ".join(f"{key}={value}" for key, value in pairs))

    def _dispatch_arg(self, state: _StageState, command: ArgCommand) -> None:
        written: list[str] = []
        for declaration in command.args:
            value, _ = declare_arg(
                declaration,
                build_args=self.build_args,
                globals_=self.globals,
                env=state.env,
                lexer=self.lexer,
                location=command.location,
            )
            self.hooks.arg_declared(state.stage.index, declaration, value, command.location)
            if value is not None:
                state.env[declaration.name] = value
            state.args.append((declaration.name, value))
            state.arg_names.add(declaration.name)
            written.append(declaration.name if value is None else f"{declaration.name}={value}")
        self._commit(state, "ARG " + " ".join(written))

    def _dispatch_label(self, state: _StageState, command: LabelCommand) -> None:
        pairs = [
            (
                self._expand(state, pair.key, command.location, "LABEL"),
                self._expand(state, pair.value, command.location, "LABEL"),
            )
            for pair in command.pairs
        ]
        if state.labels is None:
            self._carry(len(state.image.config.labels or {}), command.location)
            state.labels = dict(state.image.config.labels or {})
        for key, value in pairs:
            if not key:
                raise DockerfileError("LABEL: names can not be blank", command.location)
            state.labels[key] = value
        self.hooks.pairs_set(command, [key for key, _ in pairs])
        self._commit(state, "LABEL " + " ".join(f"{key}={value}" for key, value in pairs))

    def _dispatch_expose(self, state: _StageState, command: ExposeCommand) -> None:
        ports: set[str] = set()
        for written in command.ports:
            try:
                words = self.lexer.expand_words(written, state.env)
            except ExpansionError as err:
                raise ExpansionError(f"EXPOSE: {err.message}", command.location) from None
            for word in words:
                self.hooks.port_exposed(word, command.location)
                ports.update(_port_keys(word, command.location))
        exposed = dict(state.image.config.exposed_ports or {})
        exposed.update({port: {} for port in ports})
        self._set_config(state, exposed_ports=exposed)
        # BuildKit prints the Go map of this instruction's ports (sorted keys).
        self._commit(state, "EXPOSE map[" + " ".join(f"{port}:{{}}" for port in sorted(ports)) + "]")

    def _dispatch_volume(self, state: _StageState, command: VolumeCommand) -> None:
        volumes = [self._expand(state, volume, command.location, "VOLUME") for volume in command.volumes]
        if any(not volume for volume in volumes):
            raise DockerfileError("VOLUME: a volume can not be an empty string", command.location)
        merged = dict(state.image.config.volumes or {})
        merged.update({volume: {} for volume in volumes})
        self._set_config(state, volumes=merged)
        self._commit(state, f"VOLUME {_go_list(volumes)}")

    def _dispatch_stopsignal(self, state: _StageState, command: StopSignalCommand) -> None:
        signal = self._expand(state, command.signal, command.location, "STOPSIGNAL")
        _check_value(check_signal, signal, command.location, "STOPSIGNAL")
        self._set_config(state, stop_signal=signal)
        self._commit(state, f"STOPSIGNAL {signal}")

    def _dispatch_entrypoint(self, state: _StageState, command: EntrypointCommand) -> None:
        self.hooks.image_command(state.stage.index, command, state.image.config.shell or ())
        args = self._with_shell(state, command.command, command.prepend_shell)
        # Docker: a new ENTRYPOINT drops the CMD inherited from the base, not one set in this stage.
        changes: dict[str, object] = {"entrypoint": args or None}
        if not state.cmd_set:
            changes["cmd"] = None
        self._set_config(state, **changes)
        self._commit(state, f"ENTRYPOINT {_go_quoted_list(args)}")

    def _dispatch_healthcheck(self, state: _StageState, command: HealthcheckCommand) -> None:
        self.hooks.image_command(state.stage.index, command, state.image.config.shell or ())
        check = Healthcheck(
            test=command.test,
            interval=command.interval,
            timeout=command.timeout,
            start_period=command.start_period,
            start_interval=command.start_interval,
            retries=command.retries,
        )
        self._set_config(state, healthcheck=check)
        self._commit(
            state,
            f"HEALTHCHECK {{Test:{_go_list(command.test)} Interval:{_go_duration(command.interval)} "
            f"Timeout:{_go_duration(command.timeout)} StartPeriod:{_go_duration(command.start_period)} "
            f"StartInterval:{_go_duration(command.start_interval)} Retries:{command.retries}}}",
        )

    # ---- helpers on the state -------------------------------------------------------------------------

    def _expand(self, state: _StageState, word: str, location: SourceLocation, what: str) -> str:
        return self._expand_with(self.lexer, state, word, location, what)

    def _expand_with(
        self, lexer: ShellLexer, state: _StageState, word: str, location: SourceLocation, what: str
    ) -> str:
        try:
            value, used, unmatched = lexer.expand_reporting(word, state.env)
        except ExpansionError as err:
            raise ExpansionError(f"{what}: {err.message}", location) from None
        state.used |= used & state.arg_names
        if unmatched:
            self.hooks.word_expanded(unmatched, state.env, state.arg_names, location)
        return value

    def _expand_optional(
        self, state: _StageState, word: str | None, location: SourceLocation, what: str
    ) -> str | None:
        return None if word is None else self._expand(state, word, location, what)

    def _with_shell(self, state: _StageState, args: tuple[str, ...], prepend_shell: bool) -> tuple[str, ...]:
        if not prepend_shell:
            return args
        shell = state.image.config.shell or DEFAULT_SHELL
        return (*shell, " ".join(args))

    def _step_text(self, state: _StageState, original: str, location: SourceLocation) -> str:
        """The instruction as progress shows it: expanded like BuildKit's processCmdEnv, keyword upper-cased."""
        try:
            text = self.lexer.expand_word(original, state.env)
        except ExpansionError:
            text = original
        return _upper_keyword(text)

    def _meta(self, state: _StageState, text: str, location: SourceLocation) -> StepMeta:
        state.step += 1
        prefix = _step_prefix(state.display, state.step, state.total)
        return StepMeta(
            name=prefix + ("ONBUILD " if state.onbuild else "") + text,
            stage=state.stage.display_name,
            location=location,
            used_args=tuple(sorted(state.used)),
        )

    def _carry(self, count: int, location: SourceLocation) -> None:
        self.carried += count
        if self.carried > MAX_CARRIED_VARIABLES:
            raise DockerfileError(
                f"the stages and RUN steps up to here carry more than {MAX_CARRIED_VARIABLES:,} variables and "
                "labels in all (each stage built FROM another copies them, each RUN carries the environment): "
                "use fewer variables, labels, stages or RUN steps",
                location,
            )

    def _set_config(self, state: _StageState, **changes: object) -> None:
        config = msgspec.structs.replace(state.image.config, **changes)
        state.image = msgspec.structs.replace(state.image, config=config)

    def _commit(
        self, state: _StageState, created_by: str, layer: bool = False, buildkit: bool = False
    ) -> None:
        """BuildKit's commitToHistory; `created` is left to the exporter."""
        text = created_by + (" # buildkit" if buildkit else "")
        state.history.append(
            History(created_by=text, comment=HISTORY_COMMENT, empty_layer=None if layer else True)
        )


# ---- pure helpers -------------------------------------------------------------------------------------


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


def _network(text: str) -> NetworkMode:
    for mode in NETWORK_MODES:
        if text == mode:
            return mode
    raise AssertionError(text)  # RunCommand checked it


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


def _check_value(check: Callable[[str], None], value: str, location: SourceLocation, keyword: str) -> None:
    try:
        check(value)
    except InvalidValue as err:
        raise DockerfileError(f"{keyword}: {err}", location) from None


def _scratch_image(platform: Platform) -> ImageConfig:
    """BuildKit's emptyImage: PATH set and WorkingDir "/"."""
    return ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant or None,
        rootfs=RootFS(),
        config=ContainerConfig(env=(f"PATH={DEFAULT_PATH}",), working_dir="/"),
    )


def _layer_count(image: ImageConfig) -> int:
    if image.rootfs.diff_ids:
        return len(image.rootfs.diff_ids)
    return sum(1 for entry in image.history if not entry.empty_layer)


def _step_prefix(display: str, step: int, total: int) -> str:
    width = len(str(total))
    stage = f"{display} " if display else ""
    return f"[{stage}{step:>{width}}/{total}] "


def _upper_keyword(text: str) -> str:
    keyword, space, rest = text.strip().partition(" ")
    return keyword.upper() + space + rest


def _summarize(content: str) -> str:
    lines = content.strip().replace("\r\n", "\n").split("\n")
    return lines[0] + ("..." if len(lines) > 1 else "")


def _stage_references(command: Command) -> list[str]:
    """What a command's --from / from= name as written: stages or images."""
    if isinstance(command, CopyCommand) and command.from_ref is not None:
        return [command.from_ref]
    if isinstance(command, RunCommand):
        return [reference for reference in map(mount_from, command.mounts) if reference]
    return []


def _input_index(inputs: list[Vertex], vertex: Vertex) -> int:
    for index, existing in enumerate(inputs):
        if index > 0 and existing.digest == vertex.digest:
            return index
    inputs.append(vertex)
    return len(inputs) - 1


def _run_command_string(
    args: tuple[str, ...], declared: list[tuple[str, str | None]], env: dict[str, str]
) -> str:
    """BuildKit's runCommandString: `|N K=V ...` for the declared ARGs, then the argv."""
    values: dict[str, str] = {}
    for name, value in declared:
        values[name] = env.get(name, value or "")
    prefix = [f"|{len(values)}", *(f"{name}={value}" for name, value in values.items())] if values else []
    return " ".join([*prefix, *args])


def _copy_message(
    keyword: str,
    command: CopyCommand | AddCommand,
    sources: tuple[str, ...],
    chown: str | None,
    chmod: str | None,
    dest: str,
) -> str:
    parts = [keyword]
    if isinstance(command, CopyCommand) and command.parents:
        parts.append("--parents")
    if chown:
        parts.append(f"--chown={chown}")
    if chmod:
        parts.append(f"--chmod={chmod}")
    parts.extend(sources)
    parts.extend(f"<<{inline.name}" for inline in command.inline)
    parts.append(dest)
    return " ".join(parts)


def _join_path(current: str, path: str) -> str:
    """BuildKit's NormalizeWorkdir: a relative path joins the current directory; the result is clean."""
    joined = posixpath.normpath(posixpath.join("/", current or "/", path))
    return "/" + joined.lstrip("/")


def _dest_path(workdir: str, dest: str) -> str:
    """BuildKit's pathRelativeToWorkingDir: absolute against WORKDIR, keeping a trailing "/" (a directory)."""
    if dest in ("", "."):
        dest = "./"
    joined = _join_path(workdir, dest)
    if (dest.endswith("/") or dest.endswith("/.") or dest == ".") and not joined.endswith("/"):
        joined += "/"
    return joined


def _env_positions(env: list[str]) -> dict[str, int]:
    """Where each name of an image Env is (its first item, which BuildKit's addEnv replaces)."""
    positions: dict[str, int] = {}
    for index, item in enumerate(env):
        positions.setdefault(item.partition("=")[0], index)
    return positions


def _add_env(env: list[str], positions: dict[str, int], pairs: list[tuple[str, str]]) -> None:
    """BuildKit's addEnv for each pair, in place: replace the first item of that name, or append one.
    `positions` indexes `env`'s names (and is kept up to date), so a pair costs the same however many
    variables there are: an ENV of many pairs, or many ENVs, is not quadratic."""
    for key, value in pairs:
        index = positions.setdefault(key, len(env))
        if index == len(env):
            env.append(f"{key}={value}")
        else:
            env[index] = f"{key}={value}"


def _escape_quotes(content: str, escape: str) -> str:
    """Escape the quotes of a heredoc body so the word lexer keeps them (BuildKit: SkipProcessQuotes)."""
    out: list[str] = []
    escaped = False
    for char in content:
        if escaped:
            out.append(char)
            escaped = False
        elif char == escape:
            out.append(char)
            escaped = True
        elif char in "\"'":
            out.append(escape + char)
        else:
            out.append(char)
    return "".join(out)


def _port_keys(spec: str, location: SourceLocation) -> list[str]:
    """docker/go-connections nat.ParsePortSpec for EXPOSE: [ip:][host:]port[-end][/proto] -> "80/tcp"."""
    raw, slash, proto = spec.partition("/")
    proto = (proto if slash and proto else "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise DockerfileError(
            f"EXPOSE: invalid protocol {proto!r} in {spec!r}; use tcp, udp or sctp", location
        )
    container = raw.rsplit(":", 1)[-1]
    start_text, dash, end_text = container.partition("-")
    try:
        start = int(start_text, 10)
        end = int(end_text, 10) if dash else start
    except ValueError:
        raise DockerfileError(
            f"EXPOSE: invalid port {spec!r}: expected a number such as 80 or 80/udp", location
        ) from None
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or not start_text.isdigit():
        raise DockerfileError(f"EXPOSE: invalid port {spec!r}: ports are 0 to 65535", location)
    if end < start:
        raise DockerfileError(
            f"EXPOSE: invalid port range {container!r}: the end is before the start", location
        )
    return [f"{port}/{proto}" for port in range(start, end + 1)]


def _go_list(values: tuple[str, ...] | list[str]) -> str:
    """Go's %v of a []string."""
    return "[" + " ".join(values) + "]"


def _go_quoted_list(values: tuple[str, ...] | list[str]) -> str:
    """Go's %q of a []string."""
    return "[" + " ".join(go_quote(value) for value in values) + "]"


def _go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String: "0s", "1.5s", "1m30s", "1h0m0s", "300ms"."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return f"{sign}{_fraction(value, 3)}µs"
    if value < 10**9:
        return f"{sign}{_fraction(value, 6)}ms"
    seconds = _fraction(value % (60 * 10**9), 9) + "s"
    minutes_total = value // (60 * 10**9)
    if minutes_total == 0:
        return sign + seconds
    hours = minutes_total // 60
    text = f"{minutes_total % 60}m{seconds}"
    return sign + (f"{hours}h{text}" if hours else text)


def _fraction(value: int, digits: int) -> str:
    whole, part = divmod(value, 10**digits)
    decimals = f"{part:0{digits}d}".rstrip("0")
    return f"{whole}.{decimals}" if decimals else str(whole)
