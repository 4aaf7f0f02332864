"""Build memos are meta.db rows: answered while the store agrees, gone in the transaction that removes what they
name (the image, a cache record of one of their steps)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.unit.store._store_images import add_image, make_layer

from slipway.errors import StoreError
from slipway.store import ImageRecord, Store
from slipway.store.memos import Memo, MemoStep, lookup
from slipway.store.meta import MetaDB
from slipway.store.prune import PrunePolicy, prune_build_cache

KEY, PRINT = "request-key", "fingerprint"


def cached_step(store: Store, key: str) -> int:
    store.snapshots.prepare(key, None)
    snapshot = store.snapshots.commit(key)
    store.cache.record(key, snapshot.id)
    return snapshot.id


def base_and_built(store: Store, tmp_path: Path) -> tuple[ImageRecord, ImageRecord]:
    base = add_image(store.images, [make_layer(store.blobs, tmp_path / "work", {"base": b"1"})], ["base:1"])
    built = add_image(store.images, [make_layer(store.blobs, tmp_path / "work", {"app": b"2"})], ["app:1"])
    return base, built


def remember(store: Store, base: ImageRecord, built: ImageRecord, cache_keys: tuple[str, ...]) -> Memo:
    memo = Memo(
        image_id=built.id,
        names=built.names,
        bases=((base.names[0], base.manifest_digest),),
        steps=(
            MemoStep("sha256:from", "[1/2] FROM base:1", "source"),
            MemoStep("sha256:run", "[2/2] RUN x", "step"),
        ),
    )
    assert store.memos.remember(KEY, PRINT, memo, cache_keys)
    return memo


@pytest.fixture
def remembered(store: Store, tmp_path: Path) -> tuple[ImageRecord, ImageRecord, Memo]:
    base, built = base_and_built(store, tmp_path)
    cached_step(store, "step-1")
    cached_step(store, "step-2")
    return base, built, remember(store, base, built, ("step-1", "step-2"))


def test_a_memo_answers_while_the_store_agrees(
    store: Store, remembered: tuple[ImageRecord, ImageRecord, Memo]
) -> None:
    base, built, memo = remembered
    assert lookup(store.root, KEY, PRINT) == memo
    assert lookup(store.root, KEY, "another fingerprint") is None
    assert lookup(store.root, "another key", PRINT) is None
    store.images.untag("app:1")
    assert lookup(store.root, KEY, PRINT) is None, "the image lost the name the build gave it"
    store.images.tag(built, "app:1")
    assert lookup(store.root, KEY, PRINT) == memo
    store.images.tag(built, "base:1")  # the base name now points at another manifest
    assert lookup(store.root, KEY, PRINT) is None


def test_removing_the_image_removes_its_memo(
    store: Store, remembered: tuple[ImageRecord, ImageRecord, Memo]
) -> None:
    _, built, _ = remembered
    store.images.remove(built)
    assert memo_rows(store) == 0
    add_image_again = store.images.add(built.manifest, built.config, built.names)
    assert add_image_again.id == built.id
    assert lookup(store.root, KEY, PRINT) is None, "a memo is only ever written by the build that made it"


@pytest.mark.parametrize("forget", ["cache_clear", "cache_forget", "prune"])
def test_forgetting_a_step_cache_record_removes_the_memo(
    store: Store, remembered: tuple[ImageRecord, ImageRecord, Memo], forget: str
) -> None:
    cached_step(store, "unrelated")
    match forget:
        case "cache_clear":
            store.cache.clear()
        case "cache_forget":
            assert store.cache.forget(["step-2"]) == 1
        case "prune":
            prune_build_cache(store, PrunePolicy(everything=True), now=0.0)
    assert memo_rows(store) == 0
    assert lookup(store.root, KEY, PRINT) is None


def test_forgetting_an_unrelated_record_keeps_the_memo(
    store: Store, remembered: tuple[ImageRecord, ImageRecord, Memo]
) -> None:
    cached_step(store, "unrelated")
    store.cache.forget(["unrelated"])
    store.gc()
    assert lookup(store.root, KEY, PRINT) == remembered[2]


def test_removing_a_cached_snapshot_removes_the_memo(store: Store, tmp_path: Path) -> None:
    base, built = base_and_built(store, tmp_path)
    snapshot_id = cached_step(store, "step-1")
    remember(store, base, built, ("step-1",))
    meta = MetaDB.open(store.root / "meta.db")
    try:
        with meta.transaction() as tx:
            tx.delete_snapshot(
                snapshot_id
            )  # as gc does: the snapshot's cache records go with it, and the memo
    finally:
        meta.close()
    assert memo_rows(store) == 0


def test_a_memo_of_steps_without_cache_records_is_not_kept(store: Store, tmp_path: Path) -> None:
    base, built = base_and_built(store, tmp_path)
    memo = Memo(image_id=built.id, names=built.names, bases=(), steps=())
    assert not store.memos.remember(KEY, PRINT, memo, ["never-recorded"])
    assert not store.memos.remember(KEY, PRINT, memo._replace(image_id="sha256:" + "0" * 64), [])
    assert memo_rows(store) == 0


def test_a_cache_record_cannot_be_deleted_behind_a_memo(
    store: Store, remembered: tuple[ImageRecord, ImageRecord, Memo]
) -> None:
    """The foreign key is the guard: a deletion that skips memos.forget_* fails instead of leaving a memo."""
    with pytest.raises(StoreError), store._meta.transaction() as tx:
        tx.connection.execute("DELETE FROM cache WHERE key = 'step-1'")
    assert lookup(store.root, KEY, PRINT) == remembered[2]


def test_lookup_without_a_store_or_with_an_older_one_is_a_miss(tmp_path: Path) -> None:
    assert lookup(tmp_path, KEY, PRINT) is None
    sqlite3.connect(tmp_path / "meta.db").close()  # an empty file: no memos table
    assert lookup(tmp_path, KEY, PRINT) is None


def test_lookup_imports_nothing_but_the_standard_library(
    store: Store, remembered: tuple[ImageRecord, ImageRecord, Memo]
) -> None:
    probe = (
        "import sys; from pathlib import Path; from slipway.store.memos import lookup\n"
        f"assert lookup(Path({str(store.root)!r}), {KEY!r}, {PRINT!r}) is not None\n"
        "print(sorted(name for name in sys.modules if name.startswith(('slipway', 'msgspec'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert (
        loaded.strip()
        == "['slipway', 'slipway._lazy', 'slipway.store', 'slipway.store._owners', 'slipway.store.memos']"
    )


def memo_rows(store: Store) -> int:
    with store._meta.snapshot() as tx:
        return int(tx.connection.execute("SELECT count(*) FROM memos").fetchone()[0])
