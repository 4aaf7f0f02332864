from slipway.store import CacheEntry
from slipway.store.prune import PrunePolicy, choose_records

ENTRIES = [
    CacheEntry(key="old-in-image", snapshot_id=1, created=100.0),
    CacheEntry(key="old", snapshot_id=2, created=200.0),
    CacheEntry(key="new", snapshot_id=3, created=900.0),
]
SIZES = {1: 500, 2: 300, 3: 200}


def keys(chosen: list[CacheEntry]) -> list[str]:
    return [entry.key for entry in chosen]


def test_default_prune_keeps_records_whose_layers_images_use() -> None:
    assert keys(choose_records(ENTRIES, SIZES, {1}, PrunePolicy(), now=1000.0)) == ["old", "new"]


def test_all_removes_every_record() -> None:
    assert keys(choose_records(ENTRIES, SIZES, {1}, PrunePolicy(everything=True), now=1000.0)) == [
        "old-in-image",
        "old",
        "new",
    ]


def test_until_keeps_records_newer_than_the_duration() -> None:
    policy = PrunePolicy(everything=True, older_than=500.0)
    assert keys(choose_records(ENTRIES, SIZES, set(), policy, now=1000.0)) == ["old-in-image", "old"]


def test_keep_storage_removes_the_oldest_until_the_rest_fits() -> None:
    policy = PrunePolicy(everything=True, keep_bytes=450)
    assert keys(choose_records(ENTRIES, SIZES, set(), policy, now=1000.0)) == ["old-in-image", "old"]
    assert choose_records(ENTRIES, SIZES, set(), PrunePolicy(keep_bytes=10_000), now=1000.0) == []
