"""The instructions that edit the image config (USER, CMD, ENTRYPOINT, HEALTHCHECK, EXPOSE, VOLUME,
STOPSIGNAL) and WORKDIR, which also makes its directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.errors import DockerfileError, ExpansionError, SourceLocation
from slipway.frontend._golang import go_duration, go_list, go_quoted_list
from slipway.frontend.convert.paths import join_path
from slipway.frontend.convert.state import StageState
from slipway.frontend.instructions import (
    CmdCommand,
    EntrypointCommand,
    ExposeCommand,
    HealthcheckCommand,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
    check_signal,
)
from slipway.frontend.instructions.values import check_value
from slipway.graph.ops import Mkdir, Vertex
from slipway.image.oci import Healthcheck

if TYPE_CHECKING:
    from slipway.frontend.convert.converter import Converter


def dispatch_user(converter: Converter, state: StageState, command: UserCommand) -> None:
    user = converter.expand(state, command.user, command.location, "USER")
    state.user = user
    converter.set_config(state, user=user)
    converter.commit(state, f"USER {user}")


def dispatch_cmd(converter: Converter, state: StageState, command: CmdCommand) -> None:
    converter.hooks.image_command(state.stage.index, command, state.image.config.shell or ())
    args = converter.with_shell(state, command.command, command.prepend_shell)
    state.cmd_set = True
    converter.set_config(state, cmd=args, args_escaped=True)
    converter.commit(state, f"CMD {go_quoted_list(args)}")


def dispatch_workdir(converter: Converter, state: StageState, command: WorkdirCommand) -> None:
    path = converter.expand(state, command.path, command.location, "WORKDIR")
    converter.hooks.workdir_changed(state.stage.index, path, command.location)
    workdir = join_path(state.workdir, path)
    state.workdir = workdir
    converter.set_config(state, working_dir=workdir)
    if workdir == "/":
        converter.commit(state, f"WORKDIR {workdir}")
        return
    meta = converter.meta(
        state, converter.step_text(state, command.original, command.location), command.location
    )
    mkdir = Mkdir(
        path=workdir, chown=state.user or None, created=converter.epoch
    )  # BuildKit's WithCreatedTime
    state.root = Vertex(mkdir, inputs=(state.root,), meta=meta)
    state.layers += 1
    converter.commit(state, f"WORKDIR {workdir}", layer=True)


def dispatch_expose(converter: Converter, state: StageState, command: ExposeCommand) -> None:
    ports: list[str] = []
    for written in command.ports:
        try:
            words = converter.lexer.expand_words(written, state.env)
        except ExpansionError as err:
            raise ExpansionError(f"EXPOSE: {err.message}", command.location) from None
        for word in words:
            converter.hooks.port_exposed(word, command.location)
            ports.extend(_port_keys(word, command.location))
    exposed = dict(state.image.config.exposed_ports or {})
    exposed.update({port: {} for port in ports})
    converter.set_config(state, exposed_ports=exposed)
    # BuildKit prints the Go slice of this instruction's ports, in the order of its sorted words.
    converter.commit(state, f"EXPOSE {go_list(ports)}")


def dispatch_volume(converter: Converter, state: StageState, command: VolumeCommand) -> None:
    volumes = [converter.expand(state, volume, command.location, "VOLUME") for volume in command.volumes]
    if any(not volume for volume in volumes):
        raise DockerfileError("VOLUME: a volume can not be an empty string", command.location)
    merged = dict(state.image.config.volumes or {})
    merged.update({volume: {} for volume in volumes})
    converter.set_config(state, volumes=merged)
    converter.commit(state, f"VOLUME {go_list(volumes)}")


def dispatch_stopsignal(converter: Converter, state: StageState, command: StopSignalCommand) -> None:
    signal = converter.expand(state, command.signal, command.location, "STOPSIGNAL")
    check_value(check_signal, signal, command.location, "STOPSIGNAL")
    converter.set_config(state, stop_signal=signal)
    converter.commit(state, f"STOPSIGNAL {signal}")


def dispatch_entrypoint(converter: Converter, state: StageState, command: EntrypointCommand) -> None:
    converter.hooks.image_command(state.stage.index, command, state.image.config.shell or ())
    args = converter.with_shell(state, command.command, command.prepend_shell)
    # Docker: a new ENTRYPOINT drops the CMD inherited from the base, not one set in this stage.
    changes: dict[str, object] = {"entrypoint": args or None}
    if not state.cmd_set:
        changes["cmd"] = None
    converter.set_config(state, **changes)
    converter.commit(state, f"ENTRYPOINT {go_quoted_list(args)}")


def dispatch_healthcheck(converter: Converter, state: StageState, command: HealthcheckCommand) -> None:
    converter.hooks.image_command(state.stage.index, command, state.image.config.shell or ())
    check = Healthcheck(
        test=command.test,
        interval=command.interval,
        timeout=command.timeout,
        start_period=command.start_period,
        start_interval=command.start_interval,
        retries=command.retries,
    )
    converter.set_config(state, healthcheck=check)
    converter.commit(
        state,
        f"HEALTHCHECK {{Test:{go_list(command.test)} Interval:{go_duration(command.interval)} "
        f"Timeout:{go_duration(command.timeout)} StartPeriod:{go_duration(command.start_period)} "
        f"StartInterval:{go_duration(command.start_interval)} Retries:{command.retries}}}",
    )


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
