"""`slipway run`: Docker's flags, parsed here; the work is slipway.runner's."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import cast

import click

from slipway._api.stores import runtime_for
from slipway.choices import CONTAINER_NETWORKS, ContainerNetwork
from slipway.cli._context import AppContext
from slipway.errors import UsageError
from slipway.image.platforms import parse_platform
from slipway.runner import RunRequest, parse_volume, run_container
from slipway.store import Store
from slipway.worker.executor import STOP_TIMEOUT_SECONDS


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--rm", is_flag=True, help="Remove the container on exit (always so: containers are not kept).")
@click.option(
    "-e", "--env", "env", multiple=True, help="Set an environment variable (K=V, or K to pass ours on)."
)
@click.option(
    "--env-file", "env_files", multiple=True, type=click.Path(dir_okay=False), help="Read K=V lines."
)
@click.option("-w", "--workdir", help="Working directory inside the container.")
@click.option("-u", "--user", help="User: name|uid[:group|gid].")
@click.option("--entrypoint", help="Replace the image's ENTRYPOINT (and drop its CMD).")
@click.option(
    "--network",
    type=click.Choice(CONTAINER_NETWORKS),
    default="host",
    show_default=True,
    help="host: the host's; none: loopback only; private: its own, with outbound access (slirp4netns).",
)
@click.option("-v", "--volume", "volumes", multiple=True, help="Bind mount HOST:CONTAINER[:ro].")
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin attached.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY.")
@click.option("--hostname", help="Container host name.")
@click.option("--name", help="Container name (accepted; containers are not kept).")
@click.option(
    "--platform", help="Run IMAGE's image for this platform, os/arch[/variant] (under emulation if foreign)."
)
@click.option(
    "--stop-timeout",
    type=click.IntRange(min=0),
    default=STOP_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds the container may take to end after SIGINT/SIGTERM before it is killed.",
)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run(
    app: AppContext,
    rm: bool,
    env: tuple[str, ...],
    env_files: tuple[str, ...],
    workdir: str | None,
    user: str | None,
    entrypoint: str | None,
    network: str,
    volumes: tuple[str, ...],
    interactive: bool,
    tty: bool,
    hostname: str | None,
    name: str | None,
    platform: str | None,
    stop_timeout: int,
    image: str,
    command: tuple[str, ...],
) -> None:
    """Run a command in a new container from IMAGE."""
    variables = [*(item for path in env_files for item in _read_env_file(Path(path))), *env]
    request = RunRequest(
        image=image,
        command=command,
        entrypoint=entrypoint,
        env=tuple(_resolve_env(variables)),
        workdir=workdir,
        user=user,
        network=cast(ContainerNetwork, network),
        volumes=tuple(parse_volume(volume) for volume in volumes),
        interactive=interactive,
        tty=tty,
        hostname=hostname,
        name=name,
        platform=parse_platform(platform) if platform else None,
        stop_timeout=stop_timeout,
    )
    if tty and interactive and not os.isatty(0):
        raise UsageError("the input device is not a TTY: drop -t, or run from a terminal")
    if tty and not _has_terminal():
        # The runtime attaches a TTY container to our controlling terminal; with none (CI, cron),
        # run without one, as a plain pipe, rather than fail.
        click.echo("warning: -t ignored: no terminal to attach the container's TTY to", err=True)
        request = replace(request, tty=False)
    runtime = runtime_for(app.root)
    with Store.open(app.root) as store:
        code = run_container(request, store=store, runtime=runtime)
    sys.exit(code)


def _has_terminal() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _read_env_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"--env-file {path}: {err.strerror}") from err
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _resolve_env(items: list[str]) -> list[str]:
    # As Docker: "K" alone passes our value on, and is dropped when we have none.
    resolved = []
    for item in items:
        if "=" in item:
            resolved.append(item)
        elif item in os.environ:
            resolved.append(f"{item}={os.environ[item]}")
    return resolved
