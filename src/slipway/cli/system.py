"""`slipway system df | check | prune`: the store's disk use, health and cleanup, with docker's output."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from slipway.cli._context import AppContext
from slipway.cli._humanize import human_size
from slipway.cli._templates import parse_format
from slipway.cli.images import open_store, prune_and_report
from slipway.errors import StoreDamaged, StoreError
from slipway.image.oci import ChainID, chain_ids
from slipway.store import ImageRecord, SnapshotRecord, Store

DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}


@dataclass(frozen=True, slots=True)
class Usage:
    kind: str  # "Images", "Build Cache"
    total: int
    active: int
    size: int
    reclaimable: int
    percent: bool  # docker shows "(NN%)" after the images' reclaimable size, not after the cache's

    def fields(self) -> dict[str, object]:
        reclaimable = human_size(self.reclaimable)
        if self.percent and self.size > 0:
            reclaimable += f" ({self.reclaimable * 100 // self.size}%)"
        return {
            "Type": self.kind,
            "TotalCount": str(self.total),
            "Active": str(self.active),
            "Size": human_size(self.size),
            "Reclaimable": reclaimable,
        }


def image_usage(store: Store, images: list[ImageRecord]) -> Usage:
    """Unpacked layer sizes, each layer counted once. Active: images with a name (kept by `image prune`);
    reclaimable: the layers only dangling images use (what `image prune` frees)."""
    sizes: dict[str, int] = {}
    kept: set[str] = set()
    for image in images:
        for diff_id in image.config.rootfs.diff_ids:
            if diff_id not in sizes:
                info = store.images.layer(diff_id)
                sizes[diff_id] = info.shown_size if info is not None else 0
            if image.names:
                kept.add(diff_id)
    total = sum(sizes.values())
    reclaimable = sum(size for diff_id, size in sizes.items() if diff_id not in kept)
    active = sum(1 for image in images if image.names)
    return Usage("Images", len(images), active, total, reclaimable, percent=True)


def build_cache_usage(store: Store, images: list[ImageRecord]) -> Usage:
    """Snapshots that are no image's layers: RUN and COPY results kept for the build cache (active while a
    build is writing them). Reclaimable: the committed ones, which `system prune` frees."""
    image_chains: set[ChainID] = set()
    for image in images:
        image_chains.update(chain_ids(image.config.rootfs.diff_ids))
    cache = [snapshot for snapshot in _snapshots(store) if snapshot.chain_id not in image_chains]
    sizes = {snapshot.id: _disk_usage(snapshot.path) for snapshot in cache}
    active = [snapshot for snapshot in cache if not snapshot.committed]
    reclaimable = sum(sizes[snapshot.id] for snapshot in cache if snapshot.committed)
    return Usage("Build Cache", len(cache), len(active), sum(sizes.values()), reclaimable, percent=False)


def _snapshots(store: Store) -> list[SnapshotRecord]:
    # The store lists no snapshots; its layout (<root>/snapshots/<id>/) does, and snapshots.get vouches for each.
    directory = store.root / "snapshots"
    found = []
    for entry in sorted(os.listdir(directory)) if directory.is_dir() else []:
        if entry.isdigit():
            try:
                found.append(store.snapshots.get(int(entry)))
            except StoreError:
                continue  # a directory gc() has not removed yet
    return found


def _disk_usage(path: Path) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                stat = os.lstat(os.path.join(directory, name))
            except FileNotFoundError:
                continue
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


@click.group("system")
def system() -> None:
    """Manage the store: disk use, health, cleanup."""


@system.command("df")
@click.option(
    "--format", "format_", help="Format output: 'table', 'table TEMPLATE', 'json' or a Go template."
)
@click.pass_context
def df(ctx: click.Context, format_: str | None) -> None:
    """Show disk usage: TYPE TOTAL ACTIVE SIZE RECLAIMABLE for images and build cache."""
    with open_store(ctx) as store:
        images = store.images.list()
        usages = [image_usage(store, images), build_cache_usage(store, images)]
    click.echo(parse_format(format_, DF_TABLE).render([usage.fields() for usage in usages], DF_HEADERS))


@system.command("check")
@click.pass_context
def check(ctx: click.Context) -> None:
    """Re-hash every blob and compare records with the disk; exit 1 listing the problems."""
    app = ctx.find_object(AppContext)
    assert app is not None  # the `cli` group sets it before any command runs
    root = app.root
    try:
        with open_store(ctx) as store:
            for line in store.recovered:  # left by a killed slipway; undone on opening the store
                click.echo(f"recovered: {line}", err=True)
            problems = store.check()
    except StoreDamaged as err:
        problems = [str(err)]  # meta.db itself: nothing else can be checked against it
    if not problems:
        click.echo(f"No problems found in {root}.")
        return
    for problem in problems:
        click.echo(problem)
    click.echo(
        f"error: {len(problems)} problem{'s' if len(problems) > 1 else ''} found in {root}; "
        "`slipway system prune` removes orphans, a corrupt or missing blob needs its image loaded or pulled again",
        err=True,
    )
    sys.exit(1)


@system.command("prune")
@click.option(
    "-a", "--all", "all_images", is_flag=True, help="Remove all unused images, not just dangling ones."
)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_context
def prune(ctx: click.Context, all_images: bool, force: bool) -> None:
    """Remove dangling (or with -a all) images and the build cache, then unreferenced blobs and snapshots."""
    if not force:
        images = (
            "all images without at least one container associated to them"
            if all_images
            else "all dangling images"
        )
        click.confirm(
            f"WARNING! This will remove:\n  - {images}\n  - all build cache\n\nAre you sure you want to continue?",
            abort=True,
        )
    with open_store(ctx) as store:
        cleared = store.cache.clear()
        if cleared:
            click.echo(f"Deleted build cache records: {cleared}")
        prune_and_report(store, all_images=all_images)
