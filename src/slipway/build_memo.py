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

Only the standard library is imported here (the progress renderer when a memo answers): that is the point.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import stat
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from slipway.build import BuildOutcome

MEMO_DIR = "build-memo"
# ADD of a remote source re-checks its content on every build: such a Dockerfile is never memoized.
_REMOTE_ADD = re.compile(r"^\s*(?:ONBUILD\s+)?ADD\b[^\n]*(?:://|git@)", re.IGNORECASE | re.MULTILINE)


class MemoStep(NamedTuple):
    vertex: str  # the vertex digest, the id progress events carry
    name: str
    kind: str  # "source" (FROM: shown as done) or "step" (shown as CACHED)


class Memo(NamedTuple):
    image_id: str
    names: tuple[str, ...]  # normalized names the image carries
    bases: tuple[
        tuple[str, str], ...
    ]  # (normalized reference, manifest digest) of every FROM/COPY --from image
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


# -- the command line's side: which request a memo answers, and answering it ----------------------------------

PULL_POLICY_VARIABLE = "SLIPWAY_PULL_POLICY"


def dockerfile_location(option: str | None, context: Path) -> Path | None:
    """The Dockerfile `-f` names (None: CONTEXT/Dockerfile); not for `-f -`. docker resolves a relative -f
    against the working directory, then against the context."""
    if not option:
        return None
    path = Path(option)
    if not path.is_absolute() and not path.exists():
        return context / option
    return path


def request_options(
    *,
    tags: tuple[str, ...],
    target: str | None,
    build_args: tuple[tuple[str, str], ...],
    labels: tuple[tuple[str, str], ...],
    network: str,
    platform: str,
    compression: str | None,
) -> dict[str, object]:
    """The options of a build request that can change its result, as `request_key` hashes them."""
    return {
        "tags": tags,
        "target": target,
        "build_args": build_args,
        "labels": labels,
        "network": network,
        "platform": platform,
        "compression": compression,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
        "pull": os.environ.get(PULL_POLICY_VARIABLE, ""),
    }


# The last plan this process made for a request key, and when: when the fast rebuild finds no memo, the click
# path asks for the same plan a few milliseconds later, and walking a 20,000-file context costs ~60 ms. Taken
# once and only while fresh, so a long-lived caller of main() never gets a fingerprint of an older context.
_made_plans: dict[str, tuple[MemoPlan, float]] = {}
_HANDOFF_SECONDS = 1.0


class MemoPlan:
    """A build that may be answered from its memo, and how: shared by `slipway build` and the fast rebuild."""

    def __init__(self, root: Path, key: str, fingerprint: str) -> None:
        self.root = root
        self.key = key
        self.fingerprint = fingerprint

    @classmethod
    def make(
        cls,
        root: Path,
        context: Path,
        dockerfile_path: Path | None,
        dockerfile_text: str | None,
        options: dict[str, object],
        *,
        eligible: bool,
        hand_off: bool = False,
    ) -> MemoPlan | None:
        """None when the request may not use a memo (`eligible` False: --no-cache, --pull, outputs...).
        `hand_off`: keep the plan for the next make() of the same request (the fast rebuild's, for click)."""
        if not eligible or os.environ.get(PULL_POLICY_VARIABLE) == "always" or not context.is_dir():
            return None
        path = dockerfile_path or context / "Dockerfile"
        try:
            text = (
                dockerfile_text if dockerfile_text is not None else path.read_text(errors="surrogateescape")
            )
        except OSError:
            return None  # the full build path reports the missing Dockerfile
        if not may_memoize(text):
            return None
        ignore_files = [path.parent / f"{path.name}.dockerignore", context / ".dockerignore"]
        source = "-" if dockerfile_text is not None else str(path.absolute())
        key = request_key(root, {**options, "context": str(context.absolute()), "dockerfile": source})
        made = _made_plans.pop(key, None)
        if made is not None and time.monotonic() - made[1] < _HANDOFF_SECONDS:
            return made[0]  # the fast rebuild's, milliseconds ago: the context is not walked twice on a miss
        try:
            fingerprint_value = fingerprint(text, ignore_files, context)
        except OSError:
            return None
        plan = cls(root, key, fingerprint_value)
        if hand_off:
            _made_plans[key] = (plan, time.monotonic())
        return plan

    @staticmethod
    def take_handoff(key: str) -> None:
        """Drop the plan kept for `key` (the fast rebuild answered: nobody asks for it again)."""
        _made_plans.pop(key, None)

    def answer(self, *, progress: str, iidfile: Path | None, quiet: bool) -> bool:
        """Replay the memo's build as a fully cached one; False when there is no valid memo."""
        import sys

        from slipway.progress.events import StepCached, StepDone, StepStarted
        from slipway.progress.render import open_renderer

        memo = read_memo(self.root, self.key, self.fingerprint)
        if memo is None:
            return False
        with open_renderer(progress, sys.stderr) as events:  # type: ignore[arg-type]
            for step in memo.steps:
                now = time.time()
                if step.kind == "source":
                    events.emit(StepStarted(vertex=step.vertex, name=step.name, at=now))
                    events.emit(StepDone(vertex=step.vertex, at=now))
                else:
                    events.emit(StepCached(vertex=step.vertex, name=step.name, at=now))
            events.emit(StepStarted(vertex="export", name="exporting to image", at=time.time()))
            events.emit(StepDone(vertex="export", at=time.time()))
        if iidfile is not None:
            iidfile.write_text(memo.image_id)
        if quiet:
            print(memo.image_id, flush=True)
            return True
        for name in memo.names:
            print(f"naming to {name} done", file=sys.stderr)
        print(f"writing image {memo.image_id} done", file=sys.stderr, flush=True)
        return True

    def remember(self, outcome: BuildOutcome) -> None:
        """Leave a memo of a successful build, unless its graph reads the network."""
        from slipway.graph.ops import Copy, Exec, GitSource, HttpSource, ImageSource, Mkdir, walk

        assert outcome.image is not None
        steps = []
        bases = {}
        for vertex in walk(outcome.graph.target.root):
            if isinstance(vertex.op, HttpSource | GitSource):
                # The graph is the authority: an ADD of a URL reached through an ARG, a continuation line or
                # a base image's ONBUILD re-checks its content on every build, so no memo may answer for it.
                return
            if isinstance(vertex.op, ImageSource):
                bases[vertex.op.ref] = vertex.op.manifest_digest
                steps.append(MemoStep(vertex.digest, vertex.meta.name, "source"))
            elif isinstance(vertex.op, Exec | Copy | Mkdir):  # the steps a cached build reports as CACHED
                steps.append(MemoStep(vertex.digest, vertex.meta.name, "step"))
        memo = Memo(
            image_id=outcome.image.id,
            names=outcome.image.names,
            bases=tuple(sorted(bases.items())),
            steps=tuple(steps),
        )
        # A memo is an optimisation: a store we cannot write to only costs the next rebuild its time.
        with contextlib.suppress(OSError):
            write_memo(self.root, self.key, self.fingerprint, memo)
