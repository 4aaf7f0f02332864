"""Image commands with docker's names, flags and output: images, inspect, history, tag, rmi, and `image ...`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType

import click

from slipway.cli._context import AppContext
from slipway.cli._humanize import human_size
from slipway.cli._image_views import (
    HISTORY_HEADERS,
    IMAGE_HEADERS,
    ImageFilter,
    history_fields,
    history_rows,
    image_fields,
    image_rows,
    inspect_document,
)
from slipway.cli._removal import Removal, prune_images, remove_image
from slipway.cli._templates import go_json, parse_format, parse_template
from slipway.errors import SlipwayError
from slipway.image.platforms import format_platform, host_platform
from slipway.store import Store

IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_TABLE_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
# `slipway image NAME` -> attribute of slipway.cli.archive
ARCHIVE_COMMANDS = MappingProxyType({"import": "import_", "save": "save", "load": "load"})
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


@contextmanager
def open_store(ctx: click.Context) -> Iterator[Store]:
    app = ctx.find_object(AppContext)
    assert app is not None  # the `cli` group sets it before any command runs
    with Store.open(app.root) as store:
        yield store


def _now() -> datetime:
    return datetime.now(UTC)


def _echo_output(text: str) -> None:
    if text:
        click.echo(text)


@click.command("images")
@click.argument("repository", required=False)
@click.option(
    "-a", "--all", "show_all", is_flag=True, help="Show all images (default hides intermediate images)."
)
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--digests", is_flag=True, help="Show digests.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option(
    "--format", "format_", help="Format output: 'table', 'table TEMPLATE', 'json' or a Go template."
)
@click.option(
    "-f",
    "--filter",
    "filters",
    multiple=True,
    help="dangling=true|false, reference=PATTERN, label=KEY[=VALUE].",
)
@click.pass_context
def images(
    ctx: click.Context,
    repository: str | None,
    show_all: bool,
    quiet: bool,
    digests: bool,
    no_trunc: bool,
    format_: str | None,
    filters: tuple[str, ...],
) -> None:
    """List images: REPOSITORY TAG IMAGE ID CREATED SIZE."""
    selected = ImageFilter.parse(filters, repository)
    with open_store(ctx) as store:
        rows = image_rows(store.images.list(), selected, show_all=show_all)
    now = _now()
    items = [image_fields(row, now, no_trunc=no_trunc) for row in rows]
    if quiet:
        output = parse_format("{{.ID}}", "")
    else:
        table = IMAGES_TABLE_DIGESTS if digests else IMAGES_TABLE
        # A store with images of other platforms than this machine's (a name holding several) says which is which.
        if any(item["Platform"] != format_platform(host_platform()) for item in items):
            table += "\t{{.Platform}}"
        output = parse_format(format_, table)
    _echo_output(output.render(items, IMAGE_HEADERS))


@click.command("inspect")
@click.argument("refs", nargs=-1, required=True, metavar="IMAGE...")
@click.option(
    "-f", "--format", "format_", help="Format output with a Go template ('{{.Id}}', '{{json .Config}}')."
)
@click.option(
    "--type", "type_", type=click.Choice(["image"]), default="image", help="Only images are inspected."
)
@click.pass_context
def inspect(ctx: click.Context, refs: tuple[str, ...], format_: str | None, type_: str) -> None:
    """Print images as a JSON array, as `docker image inspect` does."""
    documents = []
    errors = []
    with open_store(ctx) as store:
        for ref in refs:
            try:
                documents.append(inspect_document(store.images.resolve(ref)))
            except SlipwayError as err:
                errors.append(str(err))
    if format_ is None or format_.strip() == "json":
        click.echo(go_json(documents, indent=4))
    else:
        template = parse_template(format_.replace("\\t", "\t").replace("\\n", "\n"))
        for document in documents:
            click.echo(template.render(document))
    _fail_with(errors)


@click.command("history")
@click.argument("ref", metavar="IMAGE")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option(
    "-H", "--human", type=bool, default=True, show_default=True, help="Sizes and dates in human form."
)
@click.option(
    "--format", "format_", help="Format output: 'table', 'table TEMPLATE', 'json' or a Go template."
)
@click.pass_context
def history(
    ctx: click.Context, ref: str, no_trunc: bool, quiet: bool, human: bool, format_: str | None
) -> None:
    """Show the history of an image: IMAGE CREATED CREATED BY SIZE COMMENT, newest first."""
    with open_store(ctx) as store:
        image = store.images.resolve(ref)
        rows = history_rows(store, image)
    now = _now()
    items = [history_fields(row, now, no_trunc=no_trunc, human=human) for row in rows]
    output = parse_format("{{.ID}}", "") if quiet else parse_format(format_, HISTORY_TABLE)
    _echo_output(output.render(items, HISTORY_HEADERS))


@click.command("tag")
@click.argument("source", metavar="SOURCE_IMAGE[:TAG]")
@click.argument("target", metavar="TARGET_IMAGE[:TAG]")
@click.pass_context
def tag(ctx: click.Context, source: str, target: str) -> None:
    """Create a name TARGET_IMAGE that refers to SOURCE_IMAGE."""
    with open_store(ctx) as store:
        store.images.tag(store.images.resolve(source), target)


@click.command("rmi")
@click.argument("refs", nargs=-1, required=True, metavar="IMAGE...")
@click.option(
    "-f", "--force", is_flag=True, help="Remove images that others build on or several repositories name."
)
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents.")
@click.pass_context
def rmi(ctx: click.Context, refs: tuple[str, ...], force: bool, no_prune: bool) -> None:
    """Remove one or more images (Untagged: ... / Deleted: sha256:...)."""
    errors = []
    with open_store(ctx) as store:
        deleted = False
        for ref in refs:
            try:
                removal = remove_image(store, ref, force=force, prune_parents=not no_prune)
            except SlipwayError as err:
                errors.append(str(err))
                continue
            _echo_removal(removal, "Untagged", "Deleted")
            deleted = deleted or bool(removal.deleted)
        if deleted:
            # As `docker rmi` frees the layers only the image used. Not while a build, pull or run holds a
            # lease (rmi does not wait for them): then the next gc or prune frees them.
            store.gc_if_idle()
    _fail_with(errors)


def _echo_removal(removal: Removal, untagged: str, deleted: str) -> None:
    for name in removal.untagged:
        click.echo(f"{untagged}: {name}")
    for image_id in removal.deleted:
        click.echo(f"{deleted}: {image_id}")


def _fail_with(errors: list[str]) -> None:
    """Docker goes on past a failing argument and reports each; the exit status is 1 if any failed."""
    for message in errors:
        click.echo(f"error: {message}", err=True)
    if errors:
        sys.exit(1)


def prune_and_report(store: Store, *, all_images: bool) -> None:
    """Remove images, collect garbage, print what went and the space reclaimed (as docker prints it)."""
    removals = list(prune_images(store, all_images=all_images))
    freed = store.gc(on_wait=say_gc_waits)
    if removals:
        click.echo("Deleted Images:")
        for removal in removals:
            _echo_removal(removal, "untagged", "deleted")
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(freed)}")


def say_gc_waits(pids: list[int]) -> None:
    """What a prune says (once) when it must wait for other slipway commands that are storing images."""
    who = f" (process {', '.join(map(str, pids))})" if pids else ""
    click.echo(f"waiting for another slipway command{who} to finish storing what it is writing ...", err=True)


@click.command("prune")
@click.option(
    "-a", "--all", "all_images", is_flag=True, help="Remove all unused images, not just dangling ones."
)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_context
def prune(ctx: click.Context, all_images: bool, force: bool) -> None:
    """Remove unused images."""
    if not force:
        what = (
            "all images without at least one container associated to them"
            if all_images
            else "all dangling images"
        )
        click.confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?", abort=True)
    with open_store(ctx) as store:
        prune_and_report(store, all_images=all_images)


class _ImageGroup(click.Group):
    """`slipway image ...`; import, save and load live in cli/archive.py, loaded when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *ARCHIVE_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in ARCHIVE_COMMANDS:
            from slipway.cli import archive

            command: click.Command = getattr(archive, ARCHIVE_COMMANDS[cmd_name])
            return command
        return super().get_command(ctx, cmd_name)


@click.group("image", cls=_ImageGroup)
def image() -> None:
    """Manage images."""


image.add_command(images, "ls")
image.add_command(inspect, "inspect")
image.add_command(history, "history")
image.add_command(tag, "tag")
image.add_command(rmi, "rm")
image.add_command(prune, "prune")
