"""SSH agents lent to a build: `--ssh default|ID=SOCKET|ID=KEYFILE[,KEYFILE...]`, as docker buildx reads it.

An ID names a running agent's socket (SSH_AUTH_SOCK for a bare ID), or key files: those are loaded into a
private `ssh-agent` (private_agent.py), so no key is ever written anywhere. RUN --mount=type=ssh reaches an agent only through a relay of its own (agent_proxy.py).
"""

import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

__all__ = ["DEFAULT_SSH_ID", "SshSource", "parse_ssh", "ssh_agents"]

DEFAULT_SSH_ID = "default"


class SshSource(NamedTuple):
    """Agent `id` and what serves it: one agent socket, or key files (absolute paths)."""

    id: str
    paths: tuple[str, ...]
    flag: str = ""  # the --ssh value as given, for messages

    def describe(self) -> str:
        return f"--ssh {self.flag or self.id}"


def parse_ssh(text: str, environ: Mapping[str, str]) -> SshSource:
    """One --ssh value: ID[=PATH[,PATH...]]; no path means the agent at $SSH_AUTH_SOCK."""
    name, separator, rest = text.partition("=")
    paths = tuple(os.path.abspath(path) for path in rest.split(",") if path) if separator else ()
    if not paths:
        socket_path = environ.get("SSH_AUTH_SOCK", "")
        if not socket_path:
            raise _error(
                f"--ssh {text}: invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set, or name a "
                f"socket or key files: --ssh {name or DEFAULT_SSH_ID}=PATH"
            )
        paths = (os.path.abspath(socket_path),)
    return SshSource(name or DEFAULT_SSH_ID, paths, text)


@contextmanager
def ssh_agents(sources: tuple[SshSource, ...], work_dir: Path) -> Iterator[dict[str, Path]]:
    """The agent socket of each source by id, for the block; private agents are stopped after it."""
    agents: dict[str, Path] = {}
    with ExitStack() as stack:
        for source in sources:
            if source.id in agents:
                raise _error(f"{source.describe()}: duplicate agent ID {source.id!r}")
            agents[source.id] = stack.enter_context(_agent(source, work_dir))
        yield agents


@contextmanager
def _agent(source: SshSource, work_dir: Path) -> Iterator[Path]:
    kinds = []
    for path in source.paths:
        try:
            kinds.append(stat.S_ISSOCK(os.stat(path).st_mode))
        except OSError as err:
            raise _error(f"{source.describe()}: cannot use {path}: {err.strerror or err}") from None
    if not any(kinds):
        from slipway.session.private_agent import private_agent

        with private_agent(source.describe(), source.paths, work_dir) as socket_path:
            yield socket_path
        return
    if len(kinds) > 1:
        raise _error(
            f"{source.describe()}: invalid combination of keys and sockets (one socket, or key files)"
        )
    from slipway.session.agent_proxy import is_agent

    problem = is_agent(Path(source.paths[0]))
    if problem is not None:
        raise _error(f"{source.describe()}: {source.paths[0]} is not an SSH agent: {problem}")
    yield Path(source.paths[0])


def _error(message: str) -> Exception:
    from slipway.errors import SecretError  # only for the error: slipway.errors imports dataclasses

    return SecretError(message)
