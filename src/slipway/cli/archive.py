"""`slipway import`, `save` and `load`, with docker's flags and output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import click

from slipway.cli.images import open_store
from slipway.epoch import environment_epoch
from slipway.errors import ExportError, UsageError
from slipway.export._files import replace_file
from slipway.export.docker_archive import load_archive, write_docker_archive
from slipway.export.oci_layout import write_oci_archive
from slipway.export.rootfs_import import ImportOptions, import_rootfs
from slipway.export.selection import select_images
from slipway.image.platforms import parse_platform
from slipway.image.reference import parse_reference


@contextmanager
def _input(path: str, what: str) -> Iterator[BinaryIO]:
    if path == "-":
        if sys.stdin.isatty():
            raise UsageError(
                f"requested {what} from stdin, but stdin is a terminal; pipe a file in or name one"
            )
        yield sys.stdin.buffer
        return
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as err:
        raise UsageError(f"cannot open {path}: {err.strerror}") from err
    with source:
        yield source


@contextmanager
def _output(path: str | None) -> Iterator[BinaryIO]:
    """The file to write, made whole or not at all: written beside it, renamed into place on success. A
    failure to write it (a full disk, a path that cannot be a file) is an ExportError naming it."""
    if path is None or path == "-":
        if sys.stdout.isatty():
            raise UsageError("cowardly refusing to save to a terminal; use the -o flag or redirect")
        try:
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
        except OSError as err:
            raise ExportError(f"cannot write the archive to stdout: {err.strerror or err}") from err
        return
    try:
        with replace_file(Path(path)) as out:
            yield out
    except OSError as err:
        raise ExportError(f"cannot write {path}: {err.strerror or err}; nothing was written there") from err


@click.command("import")
@click.argument("source", metavar="file|-")
@click.argument("name", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option(
    "-c", "--change", "changes", multiple=True, help="Apply a Dockerfile instruction to the image config."
)
@click.option("-m", "--message", help="Set the history comment of the imported image.")
@click.option(
    "--platform", help="The platform the files are for, os/arch[/variant] (default: this machine's)."
)
@click.pass_context
def import_(
    ctx: click.Context,
    source: str,
    name: str | None,
    changes: tuple[str, ...],
    message: str | None,
    platform: str | None,
) -> None:
    """Import a root file system tar (plain, gzip, zstd, bzip2, xz) as a one-layer image; print its ID."""
    if name is not None:
        parse_reference(name)  # a bad name fails before the tar is read
    if platform is not None:
        parse_platform(platform)  # so does a bad platform
    options = ImportOptions(
        name=name,
        changes=changes,
        message=message,
        source_date_epoch=environment_epoch(os.environ),
        platform=platform,
    )
    with open_store(ctx) as store, _input(source, "import") as stream:
        record = import_rootfs(store, stream, source, options)
    click.echo(record.id)


@click.command("save")
@click.argument("refs", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-o", "--output", help="Write to a file instead of stdout.")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["docker", "oci"]),
    default="docker",
    show_default=True,
    help="docker: for `docker load` (with an OCI layout inside); oci: an OCI image layout archive.",
)
@click.pass_context
def save(ctx: click.Context, refs: tuple[str, ...], output: str | None, format_: str) -> None:
    """Save images to a tar archive (stdout by default)."""
    with open_store(ctx) as store:
        selections = select_images(store, refs)
        with _output(output) as out:
            if format_ == "oci":
                write_oci_archive(store, selections, out)
            else:
                write_docker_archive(store, selections, out)


@click.command("load")
@click.option("-i", "--input", "input_", default="-", help="Read from a tar archive file instead of stdin.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing.")
@click.pass_context
def load(ctx: click.Context, input_: str, quiet: bool) -> None:
    """Load images from a docker-save or OCI layout archive (gzip or zstd compressed, or not)."""
    with open_store(ctx) as store, _input(input_, "load") as stream:
        loaded = load_archive(store, stream, "stdin" if input_ == "-" else input_)
    if quiet:
        return
    for item in loaded:
        if item.names:
            for name in item.names:
                click.echo(f"Loaded image: {parse_reference(name).familiar()}")
        else:
            click.echo(f"Loaded image ID: {item.image.id}")
