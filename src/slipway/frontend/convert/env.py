"""ENV, ARG and LABEL: the stage's variables, and the image's Env and Labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.errors import DockerfileError
from slipway.frontend.convert.state import StageState
from slipway.frontend.instructions import ArgCommand, EnvCommand, LabelCommand
from slipway.frontend.stages import declare_arg

if TYPE_CHECKING:
    from slipway.frontend.convert.converter import Converter


def dispatch_env(converter: Converter, state: StageState, command: EnvCommand) -> None:
    # Every pair expands with the environment from before the instruction, as in Docker.
    pairs = [
        (
            converter.expand(state, pair.key, command.location, "ENV"),
            converter.expand(state, pair.value, command.location, "ENV"),
        )
        for pair in command.pairs
    ]
    for key, value in pairs:
        if not key:
            raise DockerfileError("ENV: names can not be blank", command.location)
        state.env[key] = value
    if state.config_env is None:
        converter.carry(len(state.image.config.env or ()), command.location)
        state.config_env = list(state.image.config.env or ())
        state.env_positions = _env_positions(state.config_env)
    _add_env(state.config_env, state.env_positions, pairs)
    converter.hooks.pairs_set(command, [key for key, _ in pairs])
    converter.commit(state, "ENV " + " ".join(f"{key}={value}" for key, value in pairs))


def dispatch_arg(converter: Converter, state: StageState, command: ArgCommand) -> None:
    written: list[str] = []
    for declaration in command.args:
        value, _ = declare_arg(
            declaration,
            build_args=converter.build_args,
            globals_=converter.globals,
            env=state.env,
            lexer=converter.lexer,
            location=command.location,
        )
        converter.hooks.arg_declared(state.stage.index, declaration, value, command.location)
        if value is not None:
            state.env[declaration.name] = value
        state.args.append((declaration.name, value))
        state.arg_names.add(declaration.name)
        written.append(declaration.name if value is None else f"{declaration.name}={value}")
    converter.commit(state, "ARG " + " ".join(written))


def dispatch_label(converter: Converter, state: StageState, command: LabelCommand) -> None:
    pairs = [
        (
            converter.expand(state, pair.key, command.location, "LABEL"),
            converter.expand(state, pair.value, command.location, "LABEL"),
        )
        for pair in command.pairs
    ]
    if state.labels is None:
        converter.carry(len(state.image.config.labels or {}), command.location)
        state.labels = dict(state.image.config.labels or {})
    for key, value in pairs:
        if not key:
            raise DockerfileError("LABEL: names can not be blank", command.location)
        state.labels[key] = value
    converter.hooks.pairs_set(command, [key for key, _ in pairs])
    converter.commit(state, "LABEL " + " ".join(f"{key}={value}" for key, value in pairs))


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
