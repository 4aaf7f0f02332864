"""One stage while its instructions are applied (BuildKit's dispatchState), and what it starts from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from slipway.frontend.convert.options import BaseImage
from slipway.frontend.instructions import AddCommand, Command, CopyCommand, RunCommand, WorkdirCommand
from slipway.frontend.stages import Platform, Stage
from slipway.graph.ops import HistoryChain, ImageSource, ScratchSource, StepMeta, Vertex
from slipway.image.oci import DEFAULT_PATH, ContainerConfig, History, ImageConfig, RootFS

if TYPE_CHECKING:
    from slipway.frontend.convert.converter import Converter


class StageState(msgspec.Struct):
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
    image_layers: int  # of those, the base image's (FROM an image, through any FROM <stage>)
    cmd_set: bool = False  # a CMD in this stage: ENTRYPOINT keeps it
    step: int = 0
    total: int = 0
    onbuild: bool = False  # dispatching a base image's ONBUILD trigger
    used: set[str] = msgspec.field(default_factory=set)  # ARGs the current step used
    # The image Env (and its names' positions) and Labels while ENVs and LABELs edit them: made at the stage's
    # first edit and put in `image` when it ends, so an instruction costs its own pairs, not the whole field.
    config_env: list[str] | None = None
    env_positions: dict[str, int] = msgspec.field(default_factory=dict)
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

    def copy_for(self, stage: Stage, display: str) -> StageState:
        return StageState(
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
            image_layers=self.image_layers,
        )


class StageBase(msgspec.Struct, frozen=True):
    """What a stage starts from: scratch, an image or an earlier stage."""

    platform: Platform
    image: BaseImage | None = None
    parent: StageState | None = None
    used: frozenset[str] = frozenset()
    tree: Vertex | None = None  # a named context's directory, copied onto scratch


def initial_state(converter: Converter, stage: Stage, base: StageBase, triggers: list[Command]) -> StageState:
    display = stage.display_name if len(converter.staged.stages) > 1 else ""
    if converter.options.show_platform:  # a multi-platform build's steps, as BuildKit names them
        display = f"{base.platform} {display}".rstrip()
    total = len(triggers) + sum(
        isinstance(c, RunCommand | CopyCommand | AddCommand | WorkdirCommand) for c in stage.commands
    )
    if base.parent is not None:
        converter.carry(len(base.parent.env) + len(base.parent.args), stage.location)
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
        state = _fresh_state(stage, display, base, image, root, 0, total)
        if base.tree is not None:
            from slipway.frontend.convert.named import copy_named_tree

            copy_named_tree(converter, state, base.tree)
        return state
    total += 1
    image = base.image.config
    root = Vertex(
        ImageSource(
            ref=base.image.ref, manifest_digest=base.image.manifest_digest, platform=str(base.platform)
        ),
        meta=StepMeta(
            name=step_prefix(display, 1, total) + f"FROM {base.image.ref}",
            stage=stage.display_name,
            location=stage.location,
            used_args=tuple(sorted(base.used)),
        ),
    )
    state = _fresh_state(stage, display, base, image, root, _layer_count(image), total)
    state.step = 1
    return state


def _fresh_state(
    stage: Stage,
    display: str,
    base: StageBase,
    image: ImageConfig,
    root: Vertex,
    layers: int,
    total: int,
) -> StageState:
    container = image.config
    env = list(container.env or ())
    if base.platform.os != "windows" and not any(item.partition("=")[0] == "PATH" for item in env):
        env.append(f"PATH={DEFAULT_PATH}")  # BuildKit makes sure PATH is always set (not on Windows)
    image = msgspec.structs.replace(
        image, created=None, config=msgspec.structs.replace(container, env=tuple(env) or None, on_build=None)
    )
    return StageState(
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
        image_layers=layers,
        total=total,
    )


def _scratch_image(platform: Platform) -> ImageConfig:
    """BuildKit's emptyImage: PATH set and WorkingDir "/"."""
    return ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant or None,
        os_version=platform.os_version or None,
        rootfs=RootFS(),
        config=ContainerConfig(
            env=None if platform.os == "windows" else (f"PATH={DEFAULT_PATH}",), working_dir="/"
        ),
    )


def _layer_count(image: ImageConfig) -> int:
    if image.rootfs.diff_ids:
        return len(image.rootfs.diff_ids)
    return sum(1 for entry in image.history if not entry.empty_layer)


def step_prefix(display: str, step: int, total: int) -> str:
    width = len(str(total))
    stage = f"{display} " if display else ""
    return f"[{stage}{step:>{width}}/{total}] "
