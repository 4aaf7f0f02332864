"""A private `ssh-agent` for the key files of one `--ssh ID=KEYFILE[,KEYFILE]`, for the length of a build.

The agent runs in ssh-agent's command mode: it lives only as long as its command, here `cat` reading a pipe
that this process alone writes to. The build stops the agent by its PID when it ends; a build killed with
-9 closes the pipe with its death, `cat` ends, and the agent follows within ssh-agent's parent check (10 s).
(Not a parent-death signal: Debian's ssh-agent is set-group-ID, and exec clears that signal.) Its socket is
named through this process's fd of a private directory in the build's work dir: short enough for a unix
socket's name whatever the store's path, and meaningless once this process is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from slipway.errors import SecretError
from slipway.worker.runtime import SAFE_PATH

__all__ = ["private_agent"]

AGENT_SOCKET = "agent.sock"
STOP_WAIT_SECONDS = 5
# The agent's command: tell the agent's PID (ssh-agent sets SSH_AGENT_PID for it), then wait for the pipe to end.
_WATCHER = 'echo "$SSH_AGENT_PID"; exec cat'


@contextlib.contextmanager
def private_agent(flag: str, keys: tuple[str, ...], work_dir: Path) -> Iterator[Path]:
    """The socket of an agent holding `keys` (`flag` names them in errors), stopped after the block."""
    agent, add = shutil.which("ssh-agent", path=SAFE_PATH), shutil.which("ssh-add", path=SAFE_PATH)
    if agent is None or add is None:
        raise SecretError(f"{flag}: key files are served by ssh-agent and ssh-add: install openssh-client")
    with contextlib.ExitStack() as cleanup:
        directory = Path(tempfile.mkdtemp(prefix="ssh-agent-", dir=work_dir))
        cleanup.callback(shutil.rmtree, directory, ignore_errors=True)
        directory_fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        cleanup.callback(os.close, directory_fd)
        socket_name = f"/proc/{os.getpid()}/fd/{directory_fd}/{AGENT_SOCKET}"
        log_file = cleanup.enter_context(open(directory / "agent.log", "w+b"))
        # The directory as the watcher's $1: the agent's command line names the store it belongs to.
        argv = [agent, "-a", socket_name, "/bin/sh", "-c", _WATCHER, "slipway-ssh-agent", str(directory)]
        process = subprocess.Popen(
            argv, env={"PATH": SAFE_PATH}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
            start_new_session=True,
        )  # fmt: skip
        agent_pid = _agent_pid(process)
        cleanup.callback(_stop, process, agent_pid)
        if agent_pid is None:
            log_file.seek(0)
            said = log_file.read().decode(errors="replace").strip().splitlines() or ["no agent started"]
            raise SecretError(f"{flag}: ssh-agent did not start: {said[-1][:300]}")
        added = subprocess.run(
            [add, "-q", "--", *keys], stdin=subprocess.DEVNULL, capture_output=True, start_new_session=True,
            env={"PATH": SAFE_PATH, "SSH_AUTH_SOCK": socket_name, "SSH_ASKPASS_REQUIRE": "never"}, check=False,
        )  # fmt: skip
        if added.returncode != 0:
            reason = added.stderr.decode(errors="replace").strip().splitlines() or ["ssh-add failed"]
            raise SecretError(f"{flag}: cannot load the key: {reason[-1][:300]}")
        yield directory / AGENT_SOCKET


def _agent_pid(process: subprocess.Popen[bytes]) -> int | None:
    """The agent's PID, as its command prints it; None when the agent did not start (then it printed nothing)."""
    assert process.stdout is not None
    line = process.stdout.readline(64).strip()
    return int(line) if line.isdigit() else None


def _stop(process: subprocess.Popen[bytes], agent_pid: int | None) -> None:
    if agent_pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(agent_pid, signal.SIGTERM)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()  # the watcher's `cat` ends
    try:
        process.wait(timeout=STOP_WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
