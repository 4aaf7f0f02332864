"""What `slipway run` asks for, and the process it makes of it with the image's config: Docker's rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slipway.choices import ContainerNetwork
from slipway.errors import RunFailed, UsageError
from slipway.image.oci import ContainerConfig, Platform
from slipway.worker.executor import STOP_TIMEOUT_SECONDS, BindMount, ProcessSpec

__all__ = ["RunRequest", "VolumeBind", "plan_process", "merge_env", "parse_volume"]


@dataclass(frozen=True, slots=True)
class VolumeBind:
    """-v HOST:CONTAINER[:ro]."""

    source: Path
    target: str
    readonly: bool = False


@dataclass(frozen=True, slots=True)
class RunRequest:
    image: str
    command: tuple[str, ...] = ()  # replaces the image's CMD
    entrypoint: str | None = None  # --entrypoint: replaces ENTRYPOINT and clears CMD; "" clears both
    env: tuple[str, ...] = ()  # "K=V", later wins over earlier and over the image's
    workdir: str | None = None
    user: str | None = None
    network: ContainerNetwork = "host"
    volumes: tuple[VolumeBind, ...] = ()
    interactive: bool = False  # -i: keep stdin attached
    tty: bool = False  # -t
    hostname: str | None = None
    name: str | None = None  # accepted as Docker's; containers are not kept, so it names nothing
    platform: Platform | None = None  # --platform: the name's image for it (None: the one the name shows)
    stop_timeout: int = STOP_TIMEOUT_SECONDS  # seconds to end in after SIGINT/SIGTERM, then killed


def plan_process(request: RunRequest, config: ContainerConfig) -> ProcessSpec:
    """The container's process: ENTRYPOINT + CMD with the request's overrides, env, cwd, user."""
    if request.entrypoint is not None:
        entrypoint: tuple[str, ...] = (request.entrypoint,) if request.entrypoint else ()
        command = request.command  # a new entrypoint drops the image's CMD, as Docker does
    else:
        entrypoint = tuple(config.entrypoint or ())
        command = request.command or tuple(config.cmd or ())
    args = entrypoint + command
    if not args:
        raise RunFailed(
            f"{request.image}: no command specified: the image has neither CMD nor ENTRYPOINT; "
            "give a command after the image name"
        )
    workdir = request.workdir or config.working_dir or "/"
    if not workdir.startswith("/"):
        raise UsageError(f"the working directory {workdir!r} is not absolute")
    return ProcessSpec(
        args=args,
        env=merge_env(tuple(config.env or ()), request.env),
        cwd=workdir,
        user=request.user if request.user is not None else (config.user or ""),
        tty=request.tty,
    )


def merge_env(image_env: tuple[str, ...], overrides: tuple[str, ...]) -> tuple[str, ...]:
    """The image's env with overrides applied: a replaced variable keeps its place, new ones follow."""
    merged: dict[str, str] = {}
    for item in (*image_env, *overrides):
        name, _, value = item.partition("=")
        merged[name] = value
    return tuple(f"{name}={value}" for name, value in merged.items())


def parse_volume(text: str) -> VolumeBind:
    """-v HOST:CONTAINER[:ro|rw]; named volumes are not supported (containers are not kept)."""
    parts = text.split(":")
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        options = parts.pop()
    elif len(parts) == 2:
        options = "rw"
    else:
        raise UsageError(f"-v {text}: expected HOST-PATH:CONTAINER-PATH[:ro]")
    host, target = parts
    if not host.startswith(("/", ".")):
        raise UsageError(
            f"-v {text}: named volumes are not supported; give an absolute or ./relative host path"
        )
    if not target.startswith("/"):
        raise UsageError(f"-v {text}: the container path must be absolute")
    return VolumeBind(source=Path(host).absolute(), target=target, readonly=options == "ro")


def bind_mounts(volumes: tuple[VolumeBind, ...]) -> tuple[BindMount, ...]:
    return tuple(
        BindMount(source=volume.source, target=volume.target, readonly=volume.readonly) for volume in volumes
    )
