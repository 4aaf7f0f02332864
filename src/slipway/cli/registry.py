"""`slipway pull`, `push`, `login`, `logout`: Docker's flags and output, over slipway.registry."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from slipway._api.registries import registry_options
from slipway.cli._context import AppContext
from slipway.errors import SlipwayError, UsageError
from slipway.export.image import compose_index, distributable
from slipway.registry import (
    REGISTRIES_FILE,
    Credentials,
    RegistryOptions,
    format_platform,
    host_platform,
    pull_image,
    push_image,
    push_index,
)
from slipway.registry import (
    login as login_to,
)
from slipway.registry import (
    logout as logout_from,
)
from slipway.store import ImageRecord, Store

DOCKER_HUB = "docker.io"

insecure_option = click.option(
    "--insecure-registry",
    "insecure_registries",
    multiple=True,
    metavar="HOST[:PORT]",
    help=f"Allow plain HTTP (and unverified TLS) to this registry; also read from <root>/{REGISTRIES_FILE}.",
)


def _options(app: AppContext, insecure_registries: tuple[str, ...]) -> RegistryOptions:
    return registry_options(app.root, insecure_registries) or RegistryOptions()


def _printer(quiet: bool) -> Callable[[str], None]:
    def emit(line: str) -> None:
        if not quiet:
            click.echo(line)

    return emit


@click.command()
@click.argument("name")
@click.option("--platform", default=None, help="Platform os/arch[/variant] (default: this machine's).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image name.")
@insecure_option
@click.pass_obj
def pull(
    app: AppContext, name: str, platform: str | None, quiet: bool, insecure_registries: tuple[str, ...]
) -> None:
    """Pull an image from a registry."""
    options = _options(app, insecure_registries)
    with Store.open(app.root) as store:
        pull_image(
            store,
            name,
            platform=platform or format_platform(host_platform()),
            options=options,
            on_event=_printer(quiet),
        )
    if quiet:
        click.echo(name)


@click.command()
@click.argument("name")
@click.argument("destination", required=False)
@click.option("-q", "--quiet", is_flag=True, help="Print only the pushed manifest digest.")
@insecure_option
@click.pass_obj
def push(
    app: AppContext, name: str, destination: str | None, quiet: bool, insecure_registries: tuple[str, ...]
) -> None:
    """Push an image to a registry, as NAME or as DESTINATION (a NAME that holds images of several platforms:
    them all, and their image index as the tag)."""
    options = _options(app, insecure_registries)
    with Store.open(app.root) as store:
        image = store.images.resolve(name)
        members = _members(store, name)
        if len(members) > 1:
            shipped = [distributable(store, member) for member in members]
            index, _ = compose_index(store, shipped)
            digest = push_index(
                store, shipped, index, destination or name, options=options, on_event=_printer(quiet)
            )
        else:
            digest = push_image(
                store,
                distributable(store, image),
                destination or name,
                options=options,
                on_event=_printer(quiet),
            )
    if quiet:
        click.echo(digest)


def _members(store: Store, name: str) -> list[ImageRecord]:
    """The images a name holds, one per platform; [] for what is not a name (an image ID, name@digest)."""
    try:
        return store.images.members(name)
    except SlipwayError:
        return []


@click.command()
@click.argument("server", required=False, default=DOCKER_HUB)
@click.option("-u", "--username", help="Username.")
@click.option("-p", "--password", help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin.")
@insecure_option
@click.pass_obj
def login(
    app: AppContext,
    server: str,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    insecure_registries: tuple[str, ...],
) -> None:
    """Log in to a registry: check the credentials, then store them in Docker's config.json."""
    if password is not None and password_stdin:
        raise UsageError("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not username:
            raise UsageError("--password-stdin needs --username")
        password = sys.stdin.read().rstrip("\r\n")
    elif password is not None:
        click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True)
    if not username:
        username = click.prompt("Username")
    if password is None:
        password = click.prompt("Password", hide_input=True)
    if not username or not password:
        raise UsageError("a username and a password are required")
    login_to(server, Credentials(username, password), options=_options(app, insecure_registries))
    click.echo("Login Succeeded")


@click.command()
@click.argument("server", required=False, default=DOCKER_HUB)
@click.pass_obj
def logout(app: AppContext, server: str) -> None:
    """Log out from a registry: forget its credentials."""
    if logout_from(server, options=_options(app, ())):
        click.echo(f"Removing login credentials for {server}")
    else:
        click.echo(f"Not logged in to {server}")
