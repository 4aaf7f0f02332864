"""`slipway builder prune`: reclaim build cache space, as `docker builder prune` does."""

from __future__ import annotations

import sys
import time

import click

from slipway.cli._context import AppContext
from slipway.errors import UsageError


@click.group()
def builder() -> None:
    """Manage the build cache."""


@builder.command()
@click.option(
    "-a", "--all", "everything", is_flag=True, help="Remove all build cache, not just what no image uses."
)
@click.option("--filter", "filters", multiple=True, help="Filter values, e.g. until=24h.")
@click.option("--keep-storage", help="Amount of disk space to keep for cache, e.g. 10GB.")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_obj
def prune(
    app: AppContext, everything: bool, filters: tuple[str, ...], keep_storage: str | None, force: bool
) -> None:
    """Remove build cache records and the snapshots only they kept."""
    from slipway.cli._humanize import human_size
    from slipway.cli.images import say_gc_waits
    from slipway.store import Store
    from slipway.store.prune import PrunePolicy, prune_build_cache

    policy = PrunePolicy(
        everything=everything,
        older_than=_until(filters),
        keep_bytes=_size(keep_storage) if keep_storage else None,
    )
    if not force and sys.stdin.isatty():
        what = "all build cache" if everything else "build cache that no image uses"
        click.confirm(f"WARNING! This will remove {what}. Are you sure you want to continue?", abort=True)
    with Store.open(app.root) as store:
        removed, freed = prune_build_cache(store, policy, now=time.time(), on_wait=say_gc_waits)
    if removed:
        click.echo("Deleted build cache objects:")
        for key in removed:
            click.echo(key.removeprefix("sha256:")[:25])
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(freed)}")


def _until(filters: tuple[str, ...]) -> float | None:
    from slipway.frontend.instructions import parse_duration

    older_than = None
    for item in filters:
        name, _, value = item.partition("=")
        if name != "until" or not value:
            raise UsageError(f"--filter {item!r}: the build cache takes until=DURATION (e.g. until=24h)")
        try:
            older_than = parse_duration(value) / 1e9
        except ValueError:
            raise UsageError(f"--filter {item!r}: {value!r} is not a duration like 24h or 90m") from None
    return older_than


def _size(text: str) -> int:
    from slipway.frontend.instructions import parse_ram_bytes

    units = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
    lowered = text.strip().lower()
    for suffix, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        number = lowered.removesuffix(suffix)
        if number != lowered and number.replace(".", "", 1).isdigit():
            return int(float(number) * factor)
    try:
        return parse_ram_bytes(text)
    except ValueError:
        raise UsageError(f"--keep-storage {text!r}: expected a size like 10GB or 512MiB") from None
