"""Build memos: rows of meta.db saying what the last identical build made, so a no-op rebuild answers from them.

A memo is kept under its request key (solver/memo.py: what was asked) with the fingerprint of what the build
read (the Dockerfile, ignore files and the context's metadata), and holds the image it made, the names it gave
it, the base images it used and the steps to show. It depends on the image and on the build cache records of
its steps: whatever deletes those deletes the memo in the same transaction (meta.py's Transaction calls the
`forget_*` functions here; the foreign keys of `memo_cache` refuse a cache record deleted without them).

`lookup` answers a rebuild before anything else is imported, so this module imports only the standard
library, and reads meta.db on a read-only connection of its own rather than through the Store. `Memos` is the
store's part (`store.memos`): it writes them, in the store's transactions.
"""

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from slipway.store import META_DB
from slipway.store._owners import is_alive

if TYPE_CHECKING:
    from slipway.store._syncs import Syncs
    from slipway.store.meta import MetaDB

__all__ = [
    "Memo",
    "MemoStep",
    "Memos",
    "forget_all",
    "forget_for_cache",
    "forget_for_image",
    "lookup",
    "put",
]

_READ_TIMEOUT_SECONDS = 5.0  # a writer holds meta.db for milliseconds; longer means something is wrong: build


class MemoStep(NamedTuple):
    vertex: str  # the vertex digest, the id progress events carry ("" for a warning)
    name: str  # "[2/3] COPY a.txt /a.txt"; a warning: the warning (progress/warnings.py's encode_warning)
    # a FROM (shown as done), a step (shown as CACHED), a build check's warning (shown when the build ends), or
    # a line of the build's summary (the image's size, a toolchain hint: printed after the image ID)
    kind: Literal["source", "step", "warning", "summary"]


class Memo(NamedTuple):
    image_id: str
    names: tuple[str, ...]  # the normalized names the build gave the image
    bases: tuple[
        tuple[str, str], ...
    ]  # (normalized reference, manifest digest) of each FROM/COPY --from image
    steps: tuple[MemoStep, ...]


class Memos:
    """The build memos of one open store."""

    def __init__(self, meta: "MetaDB", syncs: "Syncs") -> None:
        self._meta = meta
        self._syncs = syncs

    def remember(self, key: str, fingerprint: str, memo: Memo, cache_keys: Iterable[str]) -> bool:
        """Keep the memo of a successful build; False when what it names is gone already."""
        self._syncs.publish()  # the steps' cache records, held until their snapshots are on disk
        with self._meta.transaction() as tx:
            return put(tx.connection, key, fingerprint, memo, cache_keys)

    def add_summary(self, key: str, fingerprint: str, lines: tuple[str, ...]) -> None:
        """Keep the summary the build printed with its memo, so that a rebuild answered by it prints it too."""
        with self._meta.transaction() as tx:
            row = tx.connection.execute(
                "SELECT steps FROM memos WHERE key = ? AND fingerprint = ?", (key, fingerprint)
            ).fetchone()
            if row is None:
                return  # the build left no memo (it read the network, or what it named is gone)
            steps = [step for step in json.loads(row[0]) if step[2] != "summary"]
            steps += [["", line, "summary"] for line in lines]
            tx.connection.execute("UPDATE memos SET steps = ? WHERE key = ?", (json.dumps(steps), key))


def lookup(root: Path, key: str, fingerprint: str) -> Memo | None:
    """The memo for `key` if its fingerprint matches and the store still holds what it names: the image, under
    every name the build gave it, and each base name pointing at the manifest the build used. Any doubt
    (no meta.db yet, an older schema, a busy or unreadable database) is None: the build runs."""
    path = root / META_DB
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(
            f"{path.as_uri()}?mode=ro", uri=True, timeout=_READ_TIMEOUT_SECONDS, isolation_level=None
        )
    except sqlite3.Error:
        return None
    try:
        return _read_valid(connection, key, fingerprint)
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        connection.close()


def _read_valid(connection: sqlite3.Connection, key: str, fingerprint: str) -> Memo | None:
    connection.execute("BEGIN")  # one consistent view of the memo and the names it relies on
    row = connection.execute(
        "SELECT image_id, names, bases, steps FROM memos WHERE key = ? AND fingerprint = ?",
        (key, fingerprint),
    ).fetchone()
    if row is None:
        return None
    memo = Memo(
        image_id=str(row[0]),
        names=tuple(str(name) for name in json.loads(row[1])),
        bases=tuple((str(ref), str(digest)) for ref, digest in json.loads(row[2])),
        steps=tuple(MemoStep(str(vertex), str(name), kind) for vertex, name, kind in json.loads(row[3])),
    )
    named = dict.fromkeys([ref for ref, _ in memo.bases] + list(memo.names))
    found = {
        name: (image_id, manifest)
        for name, image_id, manifest in connection.execute(
            "SELECT names.name, images.id, images.manifest_digest FROM names JOIN images ON images.id = names.image_id"
            f" WHERE names.name IN ({','.join('?' * len(named))})",
            tuple(named),
        )
    }
    if any(found.get(ref, ("", ""))[1] != manifest for ref, manifest in memo.bases):
        return None
    if not all(found.get(name, ("", ""))[0] == memo.image_id for name in memo.names):
        return None
    if connection.execute("SELECT 1 FROM images WHERE id = ?", (memo.image_id,)).fetchone() is None:
        return None
    # A killed slipway left mounts or containers (leases.py): the build path opens the store, which undoes them.
    owners = {str(owner) for (owner,) in connection.execute("SELECT DISTINCT owner FROM leases")}
    if not all(is_alive(owner) for owner in owners):
        return None
    return memo


def put(
    connection: sqlite3.Connection, key: str, fingerprint: str, memo: Memo, cache_keys: Iterable[str]
) -> bool:
    """Keep `memo` under `key`, replacing the one there, in the caller's write transaction; False (and nothing
    kept) when its image or one of its steps' cache records is not in the store: it could not be trusted."""
    keys = sorted(set(cache_keys))
    if connection.execute("SELECT 1 FROM images WHERE id = ?", (memo.image_id,)).fetchone() is None:
        return False
    known = sum(
        connection.execute("SELECT count(*) FROM cache WHERE key = ?", (k,)).fetchone()[0] for k in keys
    )
    if known != len(keys):
        return False
    connection.execute("DELETE FROM memos WHERE key = ?", (key,))
    connection.execute(
        "INSERT INTO memos (key, fingerprint, image_id, names, bases, steps) VALUES (?, ?, ?, ?, ?, ?)",
        (
            key,
            fingerprint,
            memo.image_id,
            json.dumps(list(memo.names)),
            json.dumps([list(base) for base in memo.bases]),
            json.dumps([list(step) for step in memo.steps]),
        ),
    )
    connection.executemany("INSERT INTO memo_cache (memo, cache_key) VALUES (?, ?)", [(key, k) for k in keys])
    return True


def forget_for_cache(connection: sqlite3.Connection, cache_keys: Iterable[str]) -> None:
    """Before these cache records go: the memos of builds that used them (their steps would run again)."""
    connection.executemany(
        "DELETE FROM memos WHERE key IN (SELECT memo FROM memo_cache WHERE cache_key = ?)",
        [(key,) for key in cache_keys],
    )


def forget_for_snapshot(connection: sqlite3.Connection, snapshot_id: int) -> None:
    """Before a snapshot's cache records go with it."""
    connection.execute(
        "DELETE FROM memos WHERE key IN (SELECT memo_cache.memo FROM memo_cache"
        " JOIN cache ON cache.key = memo_cache.cache_key WHERE cache.snapshot_id = ?)",
        (snapshot_id,),
    )


def forget_for_image(connection: sqlite3.Connection, image_id: str) -> None:
    """Before an image goes: the memos that answer with it."""
    connection.execute("DELETE FROM memos WHERE image_id = ?", (image_id,))


def forget_all(connection: sqlite3.Connection) -> None:
    """Before the whole build cache goes."""
    connection.execute("DELETE FROM memos")
