"""meta.db: the store's metadata in SQLite (WAL mode), shared by the threads and processes of one root.

Each thread gets its own connection. Every change that spans rows runs in one `transaction()`, which starts
with BEGIN IMMEDIATE: a writer takes the write lock up front (waiting up to the busy timeout for another
process), so two writers never deadlock on upgrading a read lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import msgspec

from slipway.errors import StoreDamaged, StoreError
from slipway.image.layers import LayerInfo
from slipway.image.oci import ChainID, Descriptor, DiffID, Digest, ImageConfig, Manifest, decode_json
from slipway.store import memos
from slipway.store.space import is_full, no_space

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ImageRow",
    "LeaseRow",
    "MetaDB",
    "SnapshotRow",
    "Transaction",
    "damaged",
    "migrate",
]

_BUSY_TIMEOUT_MS = 60_000

# meta.db's schema as one chain of migrations: MIGRATIONS[n] takes a database from version n to n + 1 (version 0
# is a new, empty file), so a store of any earlier version and a new one end with the same tables. Append
# only: a released step never changes. tests/unit/store/test_store_schema.py pins what the chain makes.
MIGRATIONS: tuple[str, ...] = (
    # 1: images and their names, layer blobs, snapshots, build cache records
    """
    CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY,
        manifest_digest TEXT NOT NULL,
        manifest BLOB NOT NULL,
        config BLOB NOT NULL,
        created TEXT NOT NULL,
        size INTEGER NOT NULL,
        added REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS images_by_manifest ON images(manifest_digest);
    CREATE TABLE IF NOT EXISTS names (
        name TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX IF NOT EXISTS names_by_image ON names(image_id);
    CREATE TABLE IF NOT EXISTS layers (
        digest TEXT PRIMARY KEY,
        diff_id TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        uncompressed_size INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS layers_by_diff_id ON layers(diff_id);
    CREATE TABLE IF NOT EXISTS snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        parent INTEGER REFERENCES snapshots(id),
        chain_id TEXT,
        diff_id TEXT,
        committed INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS snapshots_by_chain ON snapshots(chain_id);
    CREATE INDEX IF NOT EXISTS snapshots_by_parent ON snapshots(parent);
    CREATE TABLE IF NOT EXISTS cache (
        key TEXT PRIMARY KEY,
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
        created REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS cache_by_snapshot ON cache(snapshot_id)
    """,
    # 2: uncompressed layer blobs not written yet, packed from their snapshot when first read
    """
    CREATE TABLE deferred_layers (
        digest TEXT NOT NULL,
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
        PRIMARY KEY (digest, snapshot_id)
    );
    CREATE INDEX deferred_by_snapshot ON deferred_layers(snapshot_id)
    """,
    # 3: the bytes of a layer's regular files, as `docker images` counts them
    "ALTER TABLE layers ADD COLUMN content_size INTEGER",
    # 4: build memos (store/memos.py), and the registry repositories known to hold a blob (store/blob_sources.py)
    """
    CREATE TABLE memos (
        key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id),
        names TEXT NOT NULL,
        bases TEXT NOT NULL,
        steps TEXT NOT NULL
    );
    CREATE INDEX memos_by_image ON memos(image_id);
    CREATE TABLE memo_cache (
        memo TEXT NOT NULL REFERENCES memos(key) ON DELETE CASCADE,
        cache_key TEXT NOT NULL REFERENCES cache(key),
        PRIMARY KEY (memo, cache_key)
    ) WITHOUT ROWID;
    CREATE INDEX memo_cache_by_key ON memo_cache(cache_key);
    CREATE TABLE registry_blobs (
        registry TEXT NOT NULL,
        repository TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (registry, digest, repository)
    ) WITHOUT ROWID
    """,
    # 5: leases (store/leases.py): what a process has mounted, started or needs kept, recorded before it does it
    """
    CREATE TABLE leases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        runtime TEXT,
        state_root TEXT,
        created REAL NOT NULL
    );
    CREATE TABLE lease_snapshots (
        lease_id INTEGER NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
        snapshot_id INTEGER NOT NULL,
        PRIMARY KEY (lease_id, snapshot_id)
    ) WITHOUT ROWID;
    CREATE INDEX lease_snapshots_by_snapshot ON lease_snapshots(snapshot_id)
    """,
    # 6: the images a name holds, one per platform (names: the one it shows, the newest); store/images.py
    """
    CREATE TABLE name_members (
        name TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        PRIMARY KEY (name, image_id)
    ) WITHOUT ROWID;
    CREATE INDEX name_members_by_image ON name_members(image_id);
    INSERT INTO name_members (name, image_id) SELECT name, image_id FROM names
    """,
    # 7: a committed snapshot whose tree is still only its layer blob (a build cache import's), unpacked on use
    "ALTER TABLE snapshots ADD COLUMN unpacked INTEGER NOT NULL DEFAULT 1",
)
SCHEMA_VERSION = len(MIGRATIONS)


class ImageRow(msgspec.Struct, frozen=True):
    id: Digest
    manifest_digest: Digest
    manifest: bytes
    config: bytes
    created: str
    size: int
    names: tuple[str, ...]

    def decoded(self) -> tuple[Manifest, ImageConfig]:
        """The manifest and config documents; StoreDamaged naming the image when its bytes do not decode."""
        try:
            return decode_json(self.manifest, Manifest), decode_json(self.config, ImageConfig)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise StoreDamaged(
                f"the record of image {self.id} in meta.db is damaged ({err}); pull, load or build that image "
                "again to rewrite it"
            ) from err


class SnapshotRow(msgspec.Struct, frozen=True):
    id: int
    parent: int | None
    chain_id: ChainID | None
    diff_id: DiffID | None
    committed: bool
    owner: str | None
    created: float = 0.0
    unpacked: bool = True  # False: its tree is its layer's blob, unpacked when first used (snapshotter.py)


class LeaseRow(msgspec.Struct, frozen=True):
    id: int
    owner: str  # "<pid>-<start time>-<store>": the process, and which of its open stores
    kind: str  # leases.LeaseKind
    target: str  # the mount point, the container id, or "" for a hold
    runtime: str | None  # a container's OCI runtime binary and its --root
    state_root: str | None
    created: float


class MetaDB:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: Path) -> MetaDB:
        meta = cls(path)
        try:
            connection = meta._connection()
            # Read first and write only to create or migrate: a store on a full disk must still open, so that
            # `rmi` and `prune` can free space (a write here needs a WAL frame, which needs free space).
            if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                connection.execute("PRAGMA journal_mode=WAL")
                with meta.transaction() as tx:
                    migrate(tx.connection, path)
        except sqlite3.Error as err:
            meta.close()
            raise meta._error(err) from err
        except BaseException:
            meta.close()
            raise
        return meta

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: committed when the block ends, rolled back on any exception (Ctrl-C too).
        Nested use in one thread joins the outer transaction."""
        connection = self._connection()
        if connection.in_transaction:
            yield Transaction(connection)
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise self._error(err) from err
        try:
            yield Transaction(connection)
            connection.commit()
        except sqlite3.Error as err:
            _roll_back(connection)
            raise self._error(err) from err
        except BaseException:
            _roll_back(connection)
            raise

    @contextmanager
    def snapshot(self) -> Iterator[Transaction]:
        """A read transaction: its queries see one consistent state."""
        connection = self._connection()
        if connection.in_transaction:
            yield Transaction(connection)
            return
        try:
            connection.execute("BEGIN")
            try:
                yield Transaction(connection)
            finally:
                connection.rollback()
        except sqlite3.Error as err:
            raise self._error(err) from err

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        with self._lock:
            if self._closed:
                raise StoreError(f"the store using {self.path} is closed")
            try:
                # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), not the module's implicit ones.
                connection = sqlite3.connect(
                    self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
                )
                connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
                connection.execute("PRAGMA foreign_keys=ON")
                # WAL stays consistent; blobs are fsynced themselves.
                connection.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as err:
                raise self._error(err) from err
            self._connections.append(connection)
        self._local.connection = connection
        return connection

    def _error(self, err: sqlite3.Error) -> StoreError:
        """An SQLite error as what a user can act on: a full disk, a damaged file, or the error as it is."""
        code = getattr(err, "sqlite_errorcode", 0) & 0xFF
        root = self.path.parent
        if code == sqlite3.SQLITE_FULL or (code == sqlite3.SQLITE_IOERR and is_full(root)):
            return no_space(root, f"writing the store's metadata {self.path}", err)
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return damaged(self.path, str(err))
        return StoreError(f"metadata database {self.path}: {err}")


def migrate(connection: sqlite3.Connection, path: Path, *, to: int = SCHEMA_VERSION) -> None:
    """Run the migrations from the database's version up to `to`, inside the caller's transaction."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer slipway (schema {version}, this one knows {SCHEMA_VERSION}); "
            "upgrade slipway or use another --root"
        )
    for migration in MIGRATIONS[version:to]:
        for statement in migration.split(";"):
            connection.execute(statement)
    if to > version:
        connection.execute(f"PRAGMA user_version={to}")


def damaged(path: Path, reason: str) -> StoreDamaged:
    return StoreDamaged(
        f"the store's metadata at {path} is damaged: {reason}; restore it from a backup, or move it away "
        f"with its -wal and -shm files to start an empty store (its images must then be pulled, loaded or "
        "built again)"
    )


def _roll_back(connection: sqlite3.Connection) -> None:
    # After SQLITE_FULL or a corrupt page SQLite may have rolled back already, or fail to: the error that
    # brought us here is the one to report.
    with suppress(sqlite3.Error):
        connection.rollback()


class Transaction:
    """Typed queries on one connection inside a transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity_check finds wrong in the file (pages, indexes); empty when it is sound.
        Not quick_check: SQLite 3.40's reports NULLs that are not there in WITHOUT ROWID tables."""
        lines = [str(row[0]) for row in self.connection.execute("PRAGMA integrity_check")]
        return [] if lines == ["ok"] else lines

    # images

    def put_image(self, row: ImageRow) -> None:
        self.connection.execute(
            "INSERT INTO images (id, manifest_digest, manifest, config, created, size, added)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET manifest_digest=excluded.manifest_digest, manifest=excluded.manifest,"
            " config=excluded.config, created=excluded.created, size=excluded.size",
            (row.id, row.manifest_digest, row.manifest, row.config, row.created, row.size, time.time()),
        )

    def image(self, image_id: str) -> ImageRow | None:
        rows = self._images("WHERE id = ?", (image_id,))
        return rows[0] if rows else None

    def images(self) -> list[ImageRow]:
        return self._images("ORDER BY created DESC, added DESC, id", ())

    def images_by_prefix(self, prefix: str) -> list[ImageRow]:
        # GLOB, not LIKE: case-sensitive and `prefix` is hex, so it holds no wildcard characters.
        return self._images("WHERE id GLOB ?", (prefix + "*",))

    def images_by_manifest(self, manifest_digest: str) -> list[ImageRow]:
        return self._images("WHERE manifest_digest = ?", (manifest_digest,))

    def image_named(self, name: str) -> ImageRow | None:
        found = self.connection.execute("SELECT image_id FROM names WHERE name = ?", (name,)).fetchone()
        return self.image(found[0]) if found else None

    def name_members(self, name: str) -> list[ImageRow]:
        """The images `name` holds (one per platform), the one it shows first."""
        return self._images(
            "WHERE id IN (SELECT image_id FROM name_members WHERE name = ?)"
            " ORDER BY id = (SELECT image_id FROM names WHERE name = ?) DESC, added",
            (name, name),
        )

    def delete_image(self, image_id: str) -> bool:
        memos.forget_for_image(self.connection, image_id)
        shown = [
            row[0]
            for row in self.connection.execute("SELECT name FROM names WHERE image_id = ?", (image_id,))
        ]
        self.connection.execute("DELETE FROM names WHERE image_id = ?", (image_id,))
        self.connection.execute("DELETE FROM name_members WHERE image_id = ?", (image_id,))
        for name in shown:
            self._show_another(name)
        return self.connection.execute("DELETE FROM images WHERE id = ?", (image_id,)).rowcount > 0

    def set_name(self, name: str, image_id: str) -> None:
        """`name` shows `image_id` and holds it, beside the images it holds already (see drop_member)."""
        self.connection.execute(
            "INSERT INTO names (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id=excluded.image_id",
            (name, image_id),
        )
        self.connection.execute(
            "INSERT OR IGNORE INTO name_members (name, image_id) VALUES (?, ?)", (name, image_id)
        )

    def drop_member(self, name: str, image_id: str) -> None:
        """`name` no longer holds `image_id`; if it showed it, it shows another of its images, if any."""
        self.connection.execute("DELETE FROM name_members WHERE name = ? AND image_id = ?", (name, image_id))
        deleted = self.connection.execute(
            "DELETE FROM names WHERE name = ? AND image_id = ?", (name, image_id)
        ).rowcount
        if deleted:
            self._show_another(name)

    def _show_another(self, name: str) -> None:
        other = self.connection.execute(
            "SELECT image_id FROM name_members WHERE name = ? LIMIT 1", (name,)
        ).fetchone()
        if other is not None:
            self.connection.execute("INSERT INTO names (name, image_id) VALUES (?, ?)", (name, other[0]))

    def delete_name(self, name: str) -> str | None:
        """Remove a name, with every image it held; the image it showed."""
        found = self.connection.execute("SELECT image_id FROM names WHERE name = ?", (name,)).fetchone()
        self.connection.execute("DELETE FROM name_members WHERE name = ?", (name,))
        if found is None:
            return None
        self.connection.execute("DELETE FROM names WHERE name = ?", (name,))
        return str(found[0])

    def _images(self, clause: str, parameters: tuple[object, ...]) -> list[ImageRow]:
        rows = self.connection.execute(
            "SELECT id, manifest_digest, manifest, config, created, size,"
            " (SELECT group_concat(name, char(10)) FROM name_members WHERE image_id = images.id) FROM images "
            + clause,
            parameters,
        ).fetchall()
        return [
            ImageRow(
                id=Digest(row[0]),
                manifest_digest=Digest(row[1]),
                manifest=bytes(row[2]),
                config=bytes(row[3]),
                created=row[4],
                size=row[5],
                names=tuple(sorted(row[6].split("\n"))) if row[6] else (),
            )
            for row in rows
        ]

    # layers

    def put_layer(self, info: LayerInfo) -> None:
        descriptor = info.descriptor
        self.connection.execute(
            "INSERT INTO layers (digest, diff_id, media_type, size, uncompressed_size, content_size)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(digest) DO UPDATE SET diff_id=excluded.diff_id, media_type=excluded.media_type,"
            " size=excluded.size, uncompressed_size=excluded.uncompressed_size,"
            " content_size=coalesce(excluded.content_size, layers.content_size)",
            (
                descriptor.digest,
                info.diff_id,
                descriptor.media_type,
                descriptor.size,
                info.uncompressed_size,
                info.content_size,
            ),
        )

    def layer(self, digest: str) -> LayerInfo | None:
        rows = self._layers("WHERE digest = ?", (digest,))
        return rows[0] if rows else None

    def layers_by_diff_id(self, diff_id: str) -> list[LayerInfo]:
        return self._layers("WHERE diff_id = ? ORDER BY rowid", (diff_id,))

    def all_layers(self) -> list[LayerInfo]:
        return self._layers("", ())

    def delete_layer(self, digest: str) -> None:
        self.connection.execute("DELETE FROM layers WHERE digest = ?", (digest,))

    def _layers(self, clause: str, parameters: tuple[object, ...]) -> list[LayerInfo]:
        rows = self.connection.execute(
            "SELECT digest, diff_id, media_type, size, uncompressed_size, content_size FROM layers " + clause,
            parameters,
        ).fetchall()
        return [
            LayerInfo(
                diff_id=DiffID(row[1]),
                descriptor=Descriptor(media_type=row[2], digest=Digest(row[0]), size=row[3]),
                uncompressed_size=row[4],
                content_size=row[5],
            )
            for row in rows
        ]

    # snapshots

    def insert_snapshot(self, parent: int | None, owner: str) -> int:
        cursor = self.connection.execute(
            "INSERT INTO snapshots (parent, committed, owner, created) VALUES (?, 0, ?, ?)",
            (parent, owner, time.time()),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def snapshot(self, snapshot_id: int) -> SnapshotRow | None:
        rows = self._snapshots("WHERE id = ?", (snapshot_id,))
        return rows[0] if rows else None

    def snapshots(self) -> list[SnapshotRow]:
        return self._snapshots("ORDER BY id", ())

    def committed_snapshot_for_chain(self, chain_id: str) -> SnapshotRow | None:
        rows = self._snapshots("WHERE chain_id = ? AND committed = 1 ORDER BY id LIMIT 1", (chain_id,))
        return rows[0] if rows else None

    def set_snapshot_created(self, snapshot_id: int, created: float) -> None:
        self.connection.execute("UPDATE snapshots SET created = ? WHERE id = ?", (created, snapshot_id))

    def set_snapshot_layer(self, snapshot_id: int, diff_id: str, chain_id: str) -> None:
        self.connection.execute(
            "UPDATE snapshots SET diff_id = ?, chain_id = ? WHERE id = ?", (diff_id, chain_id, snapshot_id)
        )

    def set_snapshot_unpacked(self, snapshot_id: int, unpacked: bool) -> None:
        self.connection.execute(
            "UPDATE snapshots SET unpacked = ? WHERE id = ?", (int(unpacked), snapshot_id)
        )

    def commit_snapshot(self, snapshot_id: int) -> None:
        self.connection.execute(
            "UPDATE snapshots SET committed = 1, owner = NULL WHERE id = ?", (snapshot_id,)
        )

    def children(self, snapshot_id: int) -> list[int]:
        rows = self.connection.execute("SELECT id FROM snapshots WHERE parent = ?", (snapshot_id,)).fetchall()
        return [row[0] for row in rows]

    def delete_snapshot(self, snapshot_id: int) -> None:
        memos.forget_for_snapshot(self.connection, snapshot_id)
        self.connection.execute("DELETE FROM cache WHERE snapshot_id = ?", (snapshot_id,))
        self.connection.execute("DELETE FROM lease_snapshots WHERE snapshot_id = ?", (snapshot_id,))
        self.connection.execute("DELETE FROM deferred_layers WHERE snapshot_id = ?", (snapshot_id,))
        self.connection.execute("DELETE FROM snapshots WHERE id = ?", (snapshot_id,))

    def _snapshots(self, clause: str, parameters: tuple[object, ...]) -> list[SnapshotRow]:
        rows = self.connection.execute(
            "SELECT id, parent, chain_id, diff_id, committed, owner, created, unpacked FROM snapshots "
            + clause,
            parameters,
        ).fetchall()
        return [
            SnapshotRow(
                id=row[0],
                parent=row[1],
                chain_id=ChainID(row[2]) if row[2] else None,
                diff_id=DiffID(row[3]) if row[3] else None,
                committed=bool(row[4]),
                owner=row[5],
                created=row[6],
                unpacked=bool(row[7]),
            )
            for row in rows
        ]

    # deferred layers: uncompressed layer blobs not written yet, packed from their snapshot when first read

    def put_deferred_layer(self, digest: str, snapshot_id: int) -> None:
        self.connection.execute(
            "INSERT OR IGNORE INTO deferred_layers (digest, snapshot_id) VALUES (?, ?)", (digest, snapshot_id)
        )

    def deferred_snapshots(self, digest: str) -> list[SnapshotRow]:
        return self._snapshots(
            "WHERE committed = 1 AND id IN (SELECT snapshot_id FROM deferred_layers WHERE digest = ?) ORDER BY id",
            (digest,),
        )

    def deferred_digests(self) -> set[str]:
        return {
            row[0]
            for row in self.connection.execute(
                "SELECT DISTINCT d.digest FROM deferred_layers d JOIN snapshots s ON s.id = d.snapshot_id"
                " WHERE s.committed = 1"
            )
        }

    # build cache

    def cache_get(self, key: str) -> int | None:
        found = self.connection.execute("SELECT snapshot_id FROM cache WHERE key = ?", (key,)).fetchone()
        return int(found[0]) if found else None

    def cache_put(self, key: str, snapshot_id: int) -> None:
        self.connection.execute(
            "INSERT INTO cache (key, snapshot_id, created) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET snapshot_id=excluded.snapshot_id, created=excluded.created",
            (key, snapshot_id, time.time()),
        )

    def cache_snapshot_ids(self) -> set[int]:
        return {row[0] for row in self.connection.execute("SELECT DISTINCT snapshot_id FROM cache")}

    def cache_clear(self) -> int:
        memos.forget_all(self.connection)
        return self.connection.execute("DELETE FROM cache").rowcount

    def cache_entries(self) -> list[tuple[str, int, float]]:
        return [
            (str(row[0]), int(row[1]), float(row[2]))
            for row in self.connection.execute("SELECT key, snapshot_id, created FROM cache ORDER BY created")
        ]

    def cache_delete(self, keys: list[str]) -> int:
        memos.forget_for_cache(self.connection, keys)
        return sum(
            self.connection.execute("DELETE FROM cache WHERE key = ?", (key,)).rowcount for key in keys
        )

    # leases

    def insert_lease(
        self, owner: str, kind: str, target: str, *, runtime: str | None = None, state_root: str | None = None
    ) -> int:
        cursor = self.connection.execute(
            "INSERT INTO leases (owner, kind, target, runtime, state_root, created) VALUES (?, ?, ?, ?, ?, ?)",
            (owner, kind, target, runtime, state_root, time.time()),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def delete_lease(self, lease_id: int) -> None:
        self.connection.execute("DELETE FROM lease_snapshots WHERE lease_id = ?", (lease_id,))
        self.connection.execute("DELETE FROM leases WHERE id = ?", (lease_id,))

    def leases(self) -> list[LeaseRow]:
        rows = self.connection.execute(
            "SELECT id, owner, kind, target, runtime, state_root, created FROM leases ORDER BY id"
        ).fetchall()
        return [LeaseRow(*row) for row in rows]

    def hold_snapshot(self, lease_id: int, snapshot_id: int) -> bool:
        """Keep the snapshot for the lease; False if there is no such snapshot (any more)."""
        cursor = self.connection.execute(
            "INSERT OR IGNORE INTO lease_snapshots (lease_id, snapshot_id)"
            " SELECT ?, id FROM snapshots WHERE id = ?",
            (lease_id, snapshot_id),
        )
        return cursor.rowcount > 0 or self.snapshot(snapshot_id) is not None

    def held_snapshots(self) -> list[tuple[str, int]]:
        """(lease owner, snapshot id) of every snapshot a lease holds."""
        rows = self.connection.execute(
            "SELECT l.owner, s.snapshot_id FROM lease_snapshots s JOIN leases l ON l.id = s.lease_id"
        ).fetchall()
        return [(str(row[0]), int(row[1])) for row in rows]
