"""The build cache: --cache-to/--cache-from parsing, and records carried from one store to another through an
OCI layout directory (the registry form is tested against a real registry in tests/interop/registry)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.errors import ArchiveError, StoreError, UsageError
from slipway.export.cache import (
    MEDIA_CACHE_CONFIG,
    CacheImport,
    CacheSpec,
    export_cache,
    parse_cache_from,
    parse_cache_to,
)
from slipway.export.image import ExportOptions
from slipway.store import SnapshotRecord, Store
from slipway.worker.mount_plan import Overlay

OPTIONS = ExportOptions(source_date_epoch=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type=registry,ref=reg.example/app:cache", CacheSpec("registry", ref="reg.example/app:cache")),
        (
            "type=registry,ref=reg.example/app,mode=max",
            CacheSpec("registry", ref="reg.example/app:latest", mode="max"),
        ),
        ("type=local,dest=cache-dir", CacheSpec("local", path=Path("cache-dir"))),
        ("type=local,dest=d,mode=min", CacheSpec("local", path=Path("d"))),
        ("type=local,dest=d,oci-mediatypes=true,image-manifest=true", CacheSpec("local", path=Path("d"))),
    ],
)
def test_parse_cache_to(text: str, expected: CacheSpec) -> None:
    parsed = parse_cache_to(text)
    assert (parsed.type, parsed.ref, parsed.path, parsed.mode) == (
        expected.type,
        expected.ref,
        expected.path,
        expected.mode,
    )
    assert parsed.text == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type=registry,ref=127.0.0.1:5000/app:cache", CacheSpec("registry", ref="127.0.0.1:5000/app:cache")),
        ("reg.example/app:cache", CacheSpec("registry", ref="reg.example/app:cache")),
        ("type=local,src=cache-dir", CacheSpec("local", path=Path("cache-dir"))),
    ],
)
def test_parse_cache_from(text: str, expected: CacheSpec) -> None:
    parsed = parse_cache_from(text)
    assert (parsed.type, parsed.ref, parsed.path) == (expected.type, expected.ref, expected.path)


@pytest.mark.parametrize(
    ("flag", "text", "message"),
    [
        ("--cache-to", "type=registry", "--cache-to 'type=registry': type=registry needs ref="),
        ("--cache-to", "type=local", "type=local needs dest=DIR"),
        ("--cache-to", "type=local,src=x", "type=local has no attribute 'src'; it takes dest, mode"),
        ("--cache-to", "type=registry,ref=a/b,mode=all", "mode='all'; expected min or max"),
        ("--cache-to", "type=registry,ref=a/b,oci-mediatypes=false", "oci-mediatypes=true only"),
        ("--cache-from", "type=registry,ref=a/b,image-manifest=true", "has no attribute 'image-manifest'"),
        ("--cache-to", "type=registry,ref=a/b@sha256:" + "0" * 64, "a cache is written to a tag"),
        ("--cache-to", "type=s3,bucket=x", "unsupported type 's3'"),
        ("--cache-to", "type=inline,mode=max", "type=inline holds the image's own steps only"),
        ("--cache-from", "type=inline", "unsupported type 'inline'"),
        ("--cache-to", "", "--cache-to needs a value"),
        ("--cache-from", "type=local,dest=x", "type=local has no attribute 'dest'; it takes src"),
        (
            "--cache-from",
            "type=registry,ref=a/b,mode=max",
            "type=registry has no attribute 'mode'; it takes ref",
        ),
        ("--cache-from", "type=registry,ref=Not Valid", "--cache-from"),
    ],
)
def test_bad_cache_flags_name_the_flag(flag: str, text: str, message: str) -> None:
    parse = parse_cache_to if flag == "--cache-to" else parse_cache_from
    with pytest.raises(UsageError) as raised:
        parse(text)
    assert message in str(raised.value)
    assert str(raised.value).startswith(flag)


# -- a cache through a directory ------------------------------------------------------------------------------


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "other") as opened:
        yield opened


def step(store: Store, parent: SnapshotRecord | None, files: dict[str, bytes]) -> SnapshotRecord:
    """A committed snapshot holding `files`, as a build step leaves one."""
    plan = store.snapshots.prepare("step", parent.id if parent else None)
    assert isinstance(plan, Overlay) and plan.upper is not None
    for name, content in files.items():
        (plan.upper / name).write_bytes(content)
    return store.snapshots.commit("step")


def files_of(store: Store, snapshot: SnapshotRecord) -> list[dict[str, bytes]]:
    """The files of each snapshot of the chain, unpacked now if they were still their blobs (an import's)."""
    store.snapshots.unpacked(snapshot.id)
    return [
        {path.name: path.read_bytes() for path in record.path.iterdir()}
        for record in store.snapshots.chain(snapshot.id)
    ]


def test_records_travel_through_a_layout_directory(store: Store, other: Store, tmp_path: Path) -> None:
    base = step(store, None, {"base": b"base"})
    middle = step(store, base, {"middle": b"middle"})
    top = step(store, middle, {"top": b"top"})
    directory = tmp_path / "cache"

    digest = export_cache(
        store, [("key-top", top), ("key-middle", middle)], CacheSpec("local", path=directory), OPTIONS
    )

    manifest = json.loads((directory / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())
    assert manifest["config"]["mediaType"] == MEDIA_CACHE_CONFIG == "application/vnd.buildkit.cacheconfig.v0"
    assert len(manifest["layers"]) == 3
    with CacheImport(other) as imported:
        assert imported.add(CacheSpec("local", path=directory)) == 2
        assert imported.has("key-top") and imported.has("key-middle") and not imported.has("key-base")
        loaded = imported.load("key-top")
    assert not loaded.unpacked  # its layer blob only, until something reads its files
    assert other.cache.lookup("key-top") == loaded
    assert files_of(other, loaded) == [{"base": b"base"}, {"middle": b"middle"}, {"top": b"top"}]
    # The step below was loaded with it: its record is local now too.
    middle_there = other.cache.lookup("key-middle")
    assert middle_there is not None and middle_there.id == loaded.parent
    # The layers are the exporter's blobs, recorded: an image made there reuses them by diff_id.
    assert [other.images.layer(record.diff_id) for record in other.snapshots.chain(loaded.id)] == [
        store.images.layer(record.diff_id) for record in store.snapshots.chain(top.id)
    ]


def test_the_same_records_give_the_same_cache(store: Store, tmp_path: Path) -> None:
    base = step(store, None, {"base": b"base"})
    top = step(store, base, {"top": b"top"})

    first = export_cache(store, [("a", base), ("b", top)], CacheSpec("local", path=tmp_path / "one"), OPTIONS)
    second = export_cache(
        store, [("b", top), ("a", base)], CacheSpec("local", path=tmp_path / "two"), OPTIONS
    )

    assert first == second


def test_exporting_again_replaces_the_tag_and_keeps_other_entries(store: Store, tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    export_cache(store, [("a", step(store, None, {"a": b"a"}))], CacheSpec("local", path=directory), OPTIONS)
    index_path = directory / "index.json"
    index = json.loads(index_path.read_text())
    foreign = dict(index["manifests"][0], annotations={"org.opencontainers.image.ref.name": "other"})
    index_path.write_text(json.dumps({**index, "manifests": [*index["manifests"], foreign]}))

    latest = export_cache(
        store, [("b", step(store, None, {"b": b"b"}))], CacheSpec("local", path=directory), OPTIONS
    )

    entries = json.loads(index_path.read_text())["manifests"]
    tags = {entry["annotations"]["org.opencontainers.image.ref.name"]: entry["digest"] for entry in entries}
    assert tags == {"other": foreign["digest"], "latest": latest}


def test_a_corrupt_layer_is_refused_when_loaded(store: Store, other: Store, tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    snapshot = step(store, None, {"file": b"content"})
    export_cache(store, [("key", snapshot)], CacheSpec("local", path=directory), OPTIONS)
    layer = store.images.layer(store.snapshots.get(snapshot.id).diff_id)  # type: ignore[arg-type]
    assert layer is not None
    blob = directory / "blobs" / "sha256" / layer.descriptor.digest.split(":")[1]
    blob.write_bytes(b"x" * layer.descriptor.size)

    with CacheImport(other) as imported:
        imported.add(CacheSpec("local", path=directory))
        with pytest.raises(StoreError):
            imported.load("key")
    assert other.cache.lookup("key") is None
    assert list((other.root / "snapshots").iterdir()) == []


@pytest.mark.parametrize("damage", ["no index", "not a cache", "bad config"])
def test_an_unreadable_cache_is_an_archive_error(
    store: Store, other: Store, tmp_path: Path, damage: str
) -> None:
    directory = tmp_path / "cache"
    digest = export_cache(
        store, [("key", step(store, None, {"f": b"f"}))], CacheSpec("local", path=directory), OPTIONS
    )
    manifest_path = directory / "blobs" / "sha256" / digest.split(":")[1]
    manifest = json.loads(manifest_path.read_bytes())
    if damage == "no index":
        (directory / "index.json").unlink()
    elif damage == "not a cache":
        manifest["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json"
        manifest_path.write_text(json.dumps(manifest))  # no longer its digest either
    else:
        (directory / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).write_text("{}")

    with CacheImport(other) as imported, pytest.raises(ArchiveError) as raised:
        imported.add(CacheSpec("local", path=directory))
    assert str(directory) in str(raised.value)
