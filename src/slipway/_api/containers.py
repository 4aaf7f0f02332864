"""`slipway.run`: a container from an image of the store, as `slipway run --rm` starts it."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slipway._api.stores import Store, opened, runtime_for
from slipway.choices import ContainerNetwork
from slipway.runner import RunRequest, parse_volume, run_container
from slipway.worker.executor import STOP_TIMEOUT_SECONDS

__all__ = ["RunResult", "run"]


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int  # the container's process's; 128+N when a signal N ended it
    stdout: bytes | None = None  # what it wrote, with capture_output=True; None: it went to our own stdout
    stderr: bytes | None = None


def run(
    image: str,
    command: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    workdir: str | None = None,
    user: str | None = None,
    entrypoint: str | None = None,
    network: ContainerNetwork = "host",
    volumes: Sequence[str] = (),
    hostname: str | None = None,
    stop_timeout: int = STOP_TIMEOUT_SECONDS,
    capture_output: bool = False,
    timeout: float | None = None,
    store: Store | None = None,
) -> RunResult:
    """Run `command` (default: the image's ENTRYPOINT and CMD) in a new container from `image`, removed after.

    As `slipway run --rm IMAGE COMMAND...` with -e (`env`), -w, -u, --entrypoint, --network, -v
    (`volumes`: "HOST:CONTAINER[:ro]"), --hostname and --stop-timeout. A non-zero exit is a result, not an
    error. `capture_output`: stdout and stderr are returned instead of going to this process's (stdin is
    empty either way). `timeout`: seconds after which the container is killed
    (slipway.errors.BuildCancelled).
    """
    request = RunRequest(
        image=image,
        command=tuple(command),
        entrypoint=entrypoint,
        env=tuple(f"{name}={value}" for name, value in (env or {}).items()),
        workdir=workdir,
        user=user,
        network=network,
        volumes=tuple(parse_volume(volume) for volume in volumes),
        hostname=hostname,
        stop_timeout=stop_timeout,
    )
    captured: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}

    def take(fd: int, chunk: bytes) -> None:
        if capture_output:
            captured[fd].extend(chunk)
            return
        stream = sys.stdout if fd == 1 else sys.stderr  # with a timeout the output comes through here
        stream.buffer.write(chunk)
        stream.flush()

    with opened(store) as room:
        code = run_container(
            request,
            store=room,
            runtime=runtime_for(room.root),
            on_output=take if capture_output or timeout is not None else None,
            timeout=timeout,
        )
    if not capture_output:
        return RunResult(code)
    return RunResult(code, bytes(captured[1]), bytes(captured[2]))
