"""A RUN's secret and ssh mounts, made from what the build's caller lent it (slipway.session).

A secret mount is a file in a private tmpfs bind-mounted read-only at its target, or (`env=`) a variable of the
process, whose bundle then lives in that tmpfs too; an ssh mount is a relay socket of the step's own at its
target. A mount whose secret or agent was not given is left out, unless it is `required`: then the step
fails, also when its result is cached, so no cache (or memo) answer hides a missing secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

import msgspec

from slipway.errors import SecretError, SourceLocation
from slipway.graph.ops import Exec
from slipway.session.secrets import SecretValues
from slipway.worker.executor import BindMount
from slipway.worker.snapshots import MountLedger

__all__ = ["RunSession", "SessionInputs", "check_required", "session_mounts"]


class SessionInputs(msgspec.Struct, frozen=True):
    """What the caller lent the build: secret values by id, SSH agent sockets by id."""

    secrets: SecretValues = msgspec.field(default_factory=SecretValues)  # its repr shows ids only
    agents: Mapping[str, Path] = msgspec.field(default_factory=dict)


class RunSession(msgspec.Struct, frozen=True):
    binds: tuple[BindMount, ...] = ()
    env: tuple[str, ...] = ()  # NAME=value of the secrets asked for as variables
    private_dir: Path | None = None  # a tmpfs for the container's bundle, when `env` holds a secret


def check_required(op: Exec, inputs: SessionInputs, location: SourceLocation | None) -> None:
    """A required secret or agent that was not given: BuildKit's error, with what to pass."""
    where = f"{location}: " if location is not None else ""
    for mount in op.mounts:
        if not mount.required or mount.id is None:
            continue
        if mount.type == "secret" and inputs.secrets.get(mount.id) is None:
            raise SecretError(
                f"{where}secret {mount.id}: not found: pass it with --secret id={mount.id},src=FILE"
            )
        if mount.type == "ssh" and mount.id not in inputs.agents:
            raise SecretError(
                f'{where}no SSH key "{mount.id}" forwarded from the client: pass an agent socket or key '
                f"files with --ssh {mount.id}=PATH"
            )


def session_mounts(
    op: Exec, inputs: SessionInputs, step_dir: Path, mounts: ExitStack, ledger: MountLedger | None
) -> RunSession:
    """Make the step's secret files and agent relays (released by `mounts`)."""
    binds: list[BindMount] = []
    env: list[str] = []
    secrets_dir: Path | None = None
    for index, mount in enumerate(op.mounts):
        if mount.type == "secret" and mount.id is not None:
            value = inputs.secrets.get(mount.id)
            if value is None:
                continue
            # Only a build that lends a secret gets here: the module is imported by its users.
            from slipway.worker.secret_mounts import private_tmpfs, write_secret

            if secrets_dir is None:
                secrets_dir = mounts.enter_context(private_tmpfs(step_dir / "secrets", ledger=ledger))
            if mount.env:
                # An environment is text: bytes that are not UTF-8 arrive replaced (a file target keeps them).
                env.append(f"{mount.env}={value.decode(errors='replace')}")
            if mount.target:
                mode = 0o400 if mount.mode is None else mount.mode
                path = write_secret(
                    secrets_dir, f"secret-{index}", value, uid=mount.uid or 0, gid=mount.gid or 0, mode=mode
                )
                options = ("nosuid", "nodev") if mode & 0o111 else ("nosuid", "nodev", "noexec")
                binds.append(BindMount(source=path, target=mount.target, readonly=True, options=options))
        elif mount.type == "ssh" and mount.id is not None:
            upstream = inputs.agents.get(mount.id)
            if upstream is None:
                continue
            directory = step_dir / f"ssh-{index}"
            directory.mkdir(mode=0o700)
            mode = 0o600 if mount.mode is None else mount.mode
            from slipway.session.agent_proxy import AgentProxy  # sockets and a relay thread: ssh mounts only

            relay = AgentProxy(
                upstream, directory / "agent.sock", uid=mount.uid or 0, gid=mount.gid or 0, mode=mode
            )
            binds.append(BindMount(source=mounts.enter_context(relay), target=mount.target, readonly=False))
    return RunSession(tuple(binds), tuple(env), secrets_dir if env else None)


def with_variables(env: tuple[str, ...], variables: tuple[str, ...]) -> tuple[str, ...]:
    """`env` with `variables` (NAME=value) set, replacing any earlier value of the same name."""
    names = {variable.partition("=")[0] for variable in variables}
    return tuple(entry for entry in env if entry.partition("=")[0] not in names) + variables
