"""meta.db's schema is pinned: a new store and a store of every earlier version end with the same tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from slipway.errors import StoreError
from slipway.store.meta import MIGRATIONS, SCHEMA_VERSION, MetaDB, migrate

# What the migrations make, as SQLite describes it. A change here is a change of the on-disk format: it comes as
# a new migration at the end of MIGRATIONS, never as an edit of a released one.
GOLDEN_VERSION = 7
GOLDEN = """\
index cache_by_snapshot on cache(snapshot_id)
index deferred_by_snapshot on deferred_layers(snapshot_id)
index images_by_manifest on images(manifest_digest)
index layers_by_diff_id on layers(diff_id)
index lease_snapshots_by_snapshot on lease_snapshots(snapshot_id)
index memo_cache_by_key on memo_cache(cache_key)
index memos_by_image on memos(image_id)
index name_members_by_image on name_members(image_id)
index names_by_image on names(image_id)
index snapshots_by_chain on snapshots(chain_id)
index snapshots_by_parent on snapshots(parent)
table cache: key TEXT pk1, snapshot_id INTEGER NOT NULL, created REAL NOT NULL; snapshot_id -> snapshots(id) on delete CASCADE
table deferred_layers: digest TEXT NOT NULL pk1, snapshot_id INTEGER NOT NULL pk2; snapshot_id -> snapshots(id) on delete CASCADE
table images: id TEXT pk1, manifest_digest TEXT NOT NULL, manifest BLOB NOT NULL, config BLOB NOT NULL, created TEXT NOT NULL, size INTEGER NOT NULL, added REAL NOT NULL
table layers: digest TEXT pk1, diff_id TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL, uncompressed_size INTEGER NOT NULL, content_size INTEGER
table lease_snapshots without rowid: lease_id INTEGER NOT NULL pk1, snapshot_id INTEGER NOT NULL pk2; lease_id -> leases(id) on delete CASCADE
table leases: id INTEGER pk1, owner TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, runtime TEXT, state_root TEXT, created REAL NOT NULL
table memo_cache without rowid: memo TEXT NOT NULL pk1, cache_key TEXT NOT NULL pk2; cache_key -> cache(key) on delete NO ACTION, memo -> memos(key) on delete CASCADE
table memos: key TEXT pk1, fingerprint TEXT NOT NULL, image_id TEXT NOT NULL, names TEXT NOT NULL, bases TEXT NOT NULL, steps TEXT NOT NULL; image_id -> images(id) on delete NO ACTION
table name_members without rowid: name TEXT NOT NULL pk1, image_id TEXT NOT NULL pk2; image_id -> images(id) on delete CASCADE
table names: name TEXT pk1, image_id TEXT NOT NULL; image_id -> images(id) on delete CASCADE
table registry_blobs without rowid: registry TEXT NOT NULL pk1, repository TEXT NOT NULL pk3, digest TEXT NOT NULL pk2
table snapshots: id INTEGER pk1, parent INTEGER, chain_id TEXT, diff_id TEXT, committed INTEGER NOT NULL DEFAULT 0, owner TEXT, created REAL NOT NULL, unpacked INTEGER NOT NULL DEFAULT 1; parent -> snapshots(id) on delete NO ACTION
"""

# Version 3 as slipway wrote it before the migrations were one chain: every table made at once.
RELEASED_VERSION_3 = """
CREATE TABLE images (id TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL, manifest BLOB NOT NULL,
    config BLOB NOT NULL, created TEXT NOT NULL, size INTEGER NOT NULL, added REAL NOT NULL);
CREATE INDEX images_by_manifest ON images(manifest_digest);
CREATE TABLE names (name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
CREATE INDEX names_by_image ON names(image_id);
CREATE TABLE layers (digest TEXT PRIMARY KEY, diff_id TEXT NOT NULL, media_type TEXT NOT NULL,
    size INTEGER NOT NULL, uncompressed_size INTEGER NOT NULL, content_size INTEGER);
CREATE INDEX layers_by_diff_id ON layers(diff_id);
CREATE TABLE snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, parent INTEGER REFERENCES snapshots(id),
    chain_id TEXT, diff_id TEXT, committed INTEGER NOT NULL DEFAULT 0, owner TEXT, created REAL NOT NULL);
CREATE INDEX snapshots_by_chain ON snapshots(chain_id);
CREATE INDEX snapshots_by_parent ON snapshots(parent);
CREATE TABLE cache (key TEXT PRIMARY KEY,
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE, created REAL NOT NULL);
CREATE INDEX cache_by_snapshot ON cache(snapshot_id);
CREATE TABLE deferred_layers (digest TEXT NOT NULL,
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE, PRIMARY KEY (digest, snapshot_id));
CREATE INDEX deferred_by_snapshot ON deferred_layers(snapshot_id);
PRAGMA user_version=3
"""


def describe(path: Path) -> tuple[int, str]:
    """(user_version, every table and index as SQLite reports them), independent of how the SQL was spelled."""
    connection = sqlite3.connect(path)
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        lines = []
        for kind, name, table, sql in connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ):
            if kind == "index":
                columns = ", ".join(row[2] for row in connection.execute(f"PRAGMA index_info({name})"))
                lines.append(f"index {name} on {table}({columns})")
                continue
            columns = [
                f"{column} {type_}{' NOT NULL' if not_null else ''}"
                f"{f' DEFAULT {default}' if default is not None else ''}{f' pk{pk}' if pk else ''}"
                for _, column, type_, not_null, default, pk in connection.execute(
                    f"PRAGMA table_info({name})"
                )
            ]
            keys = sorted(
                f"{row[3]} -> {row[2]}({row[4]}) on delete {row[6]}"
                for row in connection.execute(f"PRAGMA foreign_key_list({name})")
            )
            rowid = " without rowid" if sql.upper().rstrip().endswith("WITHOUT ROWID") else ""
            lines.append(
                f"table {name}{rowid}: {', '.join(columns)}" + (f"; {', '.join(keys)}" if keys else "")
            )
        return version, "".join(line + "\n" for line in lines)
    finally:
        connection.close()


def at_version(path: Path, version: int) -> Path:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        migrate(connection, path, to=version)
        connection.execute("COMMIT")
    finally:
        connection.close()
    return path


def opened(path: Path) -> Path:
    MetaDB.open(path).close()
    return path


def test_a_new_store_has_the_pinned_schema(tmp_path: Path) -> None:
    assert (len(MIGRATIONS), SCHEMA_VERSION) == (SCHEMA_VERSION, GOLDEN_VERSION)
    assert describe(opened(tmp_path / "meta.db")) == (GOLDEN_VERSION, GOLDEN)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_a_store_of_every_earlier_version_is_migrated_to_it(tmp_path: Path, version: int) -> None:
    path = at_version(tmp_path / "meta.db", version)
    assert describe(path)[0] == version
    assert describe(opened(path)) == (GOLDEN_VERSION, GOLDEN)


def test_a_released_version_3_store_is_migrated_to_it(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "meta.db")
    connection.executescript(RELEASED_VERSION_3)
    connection.close()
    assert describe(opened(tmp_path / "meta.db")) == (GOLDEN_VERSION, GOLDEN)


def test_a_store_of_a_newer_slipway_is_refused_untouched(tmp_path: Path) -> None:
    path = opened(tmp_path / "meta.db")
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match="newer slipway"):
        MetaDB.open(path)
    assert describe(path)[0] == SCHEMA_VERSION + 1
