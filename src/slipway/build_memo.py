"""The build memo: what the last identical build made, so a no-op rebuild answers without solving again.

slipway has no daemon to keep the last build's state in memory, so a rebuild would import the whole
frontend, solver and worker to find that every step is cached. Instead, a successful build leaves a memo
under `<root>/build-memo/`: the image it made, the base images it used, its steps, and a fingerprint of
everything the result depends on. A rebuild with the same request whose fingerprint still matches, whose
base image names still point at the same manifests, and whose image still carries its names, reports the
steps as cached and gives the same image, having read only the memo, the context's metadata and meta.db.

The fingerprint is deliberately wider than the cache keys: the Dockerfile's bytes, the ignore files' bytes
and the metadata (path, type, mode, size, mtime, ctime, inode) of every entry in the context, ignored ones
included. Any doubt is a miss, and a miss is an ordinary build. Builds that read the network (ADD of a URL
or git repository, --pull) or write elsewhere (--output, --push, --cache-to) never use a memo.

Only the standard library is imported here: that is the point.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MEMO_DIR = "build-memo"
# ADD of a remote source re-checks its content on every build: such a Dockerfile is never memoized.
_REMOTE_ADD = re.compile(r"^\s*(?:ONBUILD\s+)?ADD\b[^\n]*(?:://|git@)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class MemoStep:
    vertex: str  # the vertex digest, the id progress events carry
    name: str
    kind: str  # "source" (FROM: shown as done) or "step" (shown as CACHED)


@dataclass(frozen=True, slots=True)
class Memo:
    image_id: str
    names: tuple[str, ...]  # normalized names the image carries
    bases: tuple[tuple[str, str], ...]  # (normalized reference, manifest digest) of every FROM/COPY --from image
    steps: tuple[MemoStep, ...]


def request_key(root: Path, request: Mapping[str, object]) -> str:
    """Which memo file a request maps to: every option that can change the result, as given."""
    text = json.dumps({"root": str(root), **request}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def may_memoize(dockerfile_text: str) -> bool:
    return _REMOTE_ADD.search(dockerfile_text) is None


def fingerprint(dockerfile_text: str, ignore_files: Iterable[Path], context: Path) -> str:
    digest = hashlib.sha256()
    digest.update(dockerfile_text.encode("utf-8", "surrogateescape"))
    for path in ignore_files:
        try:
            digest.update(b"\0ignore\0" + path.read_bytes())
        except OSError:
            digest.update(b"\0no-ignore\0")
    digest.update(b"\0context\0")
    _walk_metadata(context, "", digest)
    return digest.hexdigest()


def _walk_metadata(directory: Path, prefix: str, digest: hashlib._Hash) -> None:
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        info = entry.stat(follow_symlinks=False)
        relative = prefix + entry.name
        digest.update(
            f"{relative}\0{info.st_mode:o}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\0"
            f"{info.st_ino}\n".encode("utf-8", "surrogateescape")
        )
        if stat.S_ISDIR(info.st_mode):
            _walk_metadata(Path(entry.path), relative + "/", digest)


def read_memo(root: Path, key: str, expected_fingerprint: str) -> Memo | None:
    """The memo for `key` if its fingerprint matches and the store still holds what it names."""
    try:
        document = json.loads((root / MEMO_DIR / f"{key}.json").read_text())
        if document["fingerprint"] != expected_fingerprint:
            return None
        memo = Memo(
            image_id=str(document["image_id"]),
            names=tuple(str(name) for name in document["names"]),
            bases=tuple((str(ref), str(digest)) for ref, digest in document["bases"]),
            steps=tuple(MemoStep(str(v), str(n), str(k)) for v, n, k in document["steps"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return memo if _store_agrees(root, memo) else None


def _store_agrees(root: Path, memo: Memo) -> bool:
    """The image exists under every name, and each base name still points at the manifest the build used."""
    database = root / "meta.db"
    if not database.exists():
        return False
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        names = [name for name, _ in memo.bases] + list(memo.names)
        marks = ",".join("?" * len(names))
        rows = connection.execute(
            "SELECT names.name, images.id, images.manifest_digest FROM names "
            f"JOIN images ON images.id = names.image_id WHERE names.name IN ({marks})",
            names,
        ).fetchall()
        has_image = connection.execute("SELECT 1 FROM images WHERE id = ?", (memo.image_id,)).fetchone()
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    found = {name: (image_id, manifest) for name, image_id, manifest in rows}
    if has_image is None:
        return False
    if any(found.get(name, ("", ""))[1] != manifest for name, manifest in memo.bases):
        return False
    return all(found.get(name, ("", ""))[0] == memo.image_id for name in memo.names)


def write_memo(root: Path, key: str, fingerprint_value: str, memo: Memo) -> None:
    directory = root / MEMO_DIR
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "fingerprint": fingerprint_value,
        "image_id": memo.image_id,
        "names": list(memo.names),
        "bases": [list(base) for base in memo.bases],
        "steps": [[step.vertex, step.name, step.kind] for step in memo.steps],
    }
    temporary = directory / f".{key}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(document))
    os.replace(temporary, directory / f"{key}.json")


def forget_memos(root: Path) -> None:
    """Drop every memo (after the store changed in ways a memo cannot see, e.g. a cache prune)."""
    directory = root / MEMO_DIR
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        path.unlink(missing_ok=True)
