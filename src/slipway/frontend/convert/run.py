"""RUN to an Exec vertex (BuildKit's dispatchRun): argv and heredocs, network and security entitlements,
the history entry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.choices import NETWORK_HOST, NETWORK_MODES, SECURITY_INSECURE, NetworkMode
from slipway.errors import DockerfileError, ExpansionError, SourceLocation
from slipway.frontend.convert.run_mounts import expand_mount, input_index, run_mount
from slipway.frontend.convert.state import StageState
from slipway.frontend.instructions import RunCommand, heredoc_name
from slipway.frontend.instructions.parse import upper_keyword
from slipway.frontend.stages import parse_platform, proxy_env
from slipway.graph.ops import Exec, InlineSource, RunMount, Vertex

if TYPE_CHECKING:
    from slipway.frontend.convert.converter import Converter


_PIPES = "/dev/pipes/"  # where BuildKit mounts a RUN heredoc that starts with #!

# BuildKit's build arg for the RUN containers' host name (its default is "buildkitsandbox").
SANDBOX_HOSTNAME_ARG = "BUILDKIT_SANDBOX_HOSTNAME"


def dispatch_run(converter: Converter, state: StageState, run: RunCommand) -> None:
    if run.security == "insecure" and SECURITY_INSECURE not in converter.options.entitlements:
        raise DockerfileError(
            f"RUN --security=insecure: entitlement {SECURITY_INSECURE} is not allowed; it runs the step with "
            f"every capability, so only the build's caller can grant it: slipway build --allow {SECURITY_INSECURE}",
            run.location,
        )
    network = _network(run.network) if run.network is not None else converter.network
    if network == "host" and NETWORK_HOST not in converter.options.entitlements:
        asked = "RUN --network=host" if run.network is not None else "build --network host"
        raise DockerfileError(
            f"{asked}: entitlement {NETWORK_HOST} is not allowed; only the build's caller can grant the "
            f"host's network to a step: slipway build --allow {NETWORK_HOST}",
            run.location,
        )
    _check_runs_on_its_image(state, run.location)
    inputs: list[Vertex] = [state.root]
    mounts: list[RunMount] = []
    args, summary = _run_args(converter, state, run, inputs, mounts)
    ssh_count = 0
    for text in run.mounts:
        spec = expand_mount(converter, state, text, run.location)
        mounts.append(run_mount(converter, state, spec, inputs, ssh_count, run.location))
        ssh_count += spec.type == "ssh"
    converter.carry(len(state.env), run.location)
    env = tuple(f"{name}={value}" for name, value in state.env.items())
    ssh_targets = [mount.target for mount in mounts if mount.type == "ssh"]
    if ssh_targets and "SSH_AUTH_SOCK" not in state.env:
        env += (f"SSH_AUTH_SOCK={ssh_targets[0]}",)  # as BuildKit's llb: the first agent's socket
    state.used |= {name for name, value in state.args if value is not None and name in state.env}
    exec_op = Exec(
        args=tuple(args),
        env=env,
        proxy_env=proxy_env(converter.build_args, state.env),
        cwd=state.workdir or "/",
        user=state.user,
        network=network,
        security="insecure" if run.security == "insecure" else "sandbox",
        mounts=tuple(mounts),
        hostname=converter.build_args.get(SANDBOX_HOSTNAME_ARG) or None,
        # A RUN for another platform than the build machine's runs under an emulator; its result is not
        # the native one's, so the platform is part of the step's digest (native: left out, as before).
        platform=None if state.platform == converter.build_platform else str(state.platform),
        limits=converter.options.run_limits,
    )
    name = upper_keyword(_shown_command(converter, state, run.original, mounts)) + (
        f" ({summary})" if summary else ""
    )
    state.root = Vertex(exec_op, inputs=tuple(inputs), meta=converter.meta(state, name, run.location))
    state.layers += 1
    converter.commit(
        state, f"RUN {_run_command_string(args, state.args, state.env)}", layer=True, buildkit=True
    )


def _check_runs_on_its_image(state: StageState, location: SourceLocation) -> None:
    """A RUN runs the stage's image's programs: on a base image of another platform than the stage's (used
    with BuildKit's InvalidBaseImagePlatform warning) it would run them as that platform, and make an image
    whose TARGETPLATFORM lies; refused."""
    image = state.image
    try:
        actual = parse_platform("/".join(filter(None, (image.os, image.architecture, image.variant))))
    except ValueError:
        return  # a config without a platform: nothing to compare
    wanted = state.platform
    if (actual.os, actual.architecture, actual.variant) != (wanted.os, wanted.architecture, wanted.variant):
        raise DockerfileError(
            f"RUN: the stage's base image is for {actual}, not {wanted}: its programs would not run as "
            f"{wanted}; get the image for {wanted} (slipway pull --platform {wanted} IMAGE) or build for {actual}",
            location,
        )


def _run_args(
    converter: Converter, state: StageState, run: RunCommand, inputs: list[Vertex], mounts: list[RunMount]
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
            mounts.append(RunMount(type="bind", target=_PIPES, source="/", input=input_index(inputs, script)))
            args = [_PIPES + first.name]
            summary = _summarize(first.content)
        else:
            args = [first.content]
            summary = _summarize(first.content)
    return converter.with_shell(state, tuple(args), run.prepend_shell), summary


def _shown_command(converter: Converter, state: StageState, text: str, mounts: list[RunMount]) -> str:
    """A RUN's step name as BuildKit shows it: its text with the environment's values, a secret's as ****
    (the value is never known here; the mask says where it comes from)."""
    env = dict(state.env)
    env.update({mount.env: "****" for mount in mounts if mount.type == "secret" and mount.env})
    try:
        return converter.name_lexer.expand_word(text, env)
    except ExpansionError:
        return text


def _network(text: str) -> NetworkMode:
    for mode in NETWORK_MODES:
        if text == mode:
            return mode
    raise AssertionError(text)  # RunCommand checked it


def _summarize(content: str) -> str:
    lines = content.strip().replace("\r\n", "\n").split("\n")
    return lines[0] + ("..." if len(lines) > 1 else "")


def _run_command_string(
    args: tuple[str, ...], declared: list[tuple[str, str | None]], env: dict[str, str]
) -> str:
    """BuildKit's runCommandString: `|N K=V ...` for the declared ARGs, then the argv."""
    values: dict[str, str] = {}
    for name, value in declared:
        values[name] = env.get(name, value or "")
    prefix = [f"|{len(values)}", *(f"{name}={value}" for name, value in values.items())] if values else []
    return " ".join([*prefix, *args])
