"""The memo plan: a whole-build cache key, so a no-op rebuild answers without solving again.

slipway has no daemon to keep the last build in memory, so a rebuild would import the whole frontend, solver
and worker to find that every step is cached. Instead a successful build leaves a memo in the store
(store/memos.py) under two values planned here:

- the request key: what was asked (the context and Dockerfile paths, and every option that can change the
  result, as the command line resolved them);
- the fingerprint: what the build read, taken deliberately wider than the step cache keys: the Dockerfile's
  bytes, the ignore files' bytes and the metadata (path, type, mode, size, mtime, ctime, inode) of every
  entry in the context, ignored ones included.

A rebuild whose key and fingerprint match a memo (and whose store still agrees: memos.lookup) reports the steps
as cached and gives the same image. Any doubt is a miss, and a miss is an ordinary build. A Dockerfile that
ADDs a URL or a git repository re-checks its content on every build and is never memoized.

Only the standard library is imported here: planning happens before anything else on a rebuild.
"""

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from slipway.frontend.files import dockerfile_path, read_limited  # standard library only, as this module

__all__ = ["MEMO_KEY_VERSION", "MemoPlan", "fingerprint", "may_memoize", "plan_memo", "request_key"]

# Part of every request key: raise it when what the key covers changes, so older memos are never matched.
MEMO_KEY_VERSION = 2  # 2: memos keep the build checks' warnings
# ADD of a remote source re-checks its content on every build: such a Dockerfile is never memoized. Matched
# with re's own cache, compiled only for a Dockerfile that has an ADD at all (most COPY: a rebuild saves the
# compile).
_REMOTE_ADD = r"^\s*(?:ONBUILD\s+)?ADD\b[^\n]*(?:://|git@)"


class MemoPlan(NamedTuple):
    key: str  # the request key
    fingerprint: str  # of what the build reads


def plan_memo(
    context: Path, dockerfile: Path | None, dockerfile_text: str | None, options: Mapping[str, object]
) -> MemoPlan | None:
    """The plan for a build of `context` with the Dockerfile at `dockerfile` (None: CONTEXT/Dockerfile) or
    `dockerfile_text` (`-f -`), and the result-changing `options`; None when it may not be memoized or its
    inputs cannot be read (the build then says what is wrong)."""
    try:
        if not context.is_dir():
            return None
    except OSError:  # unreadable (EACCES): the build says so
        return None
    path = dockerfile_path(context, dockerfile)
    text = dockerfile_text if dockerfile_text is not None else _read_dockerfile(path)
    if text is None or not may_memoize(text):
        return None
    source = "-" if dockerfile_text is not None else str(path.absolute())
    ignore_files = [path.parent / f"{path.name}.dockerignore", context / ".dockerignore"]
    try:
        return MemoPlan(
            key=request_key({**options, "context": str(context.absolute()), "dockerfile": source}),
            fingerprint=fingerprint(text, ignore_files, context),
        )
    except OSError:
        return None


def _read_dockerfile(path: Path) -> str | None:
    """None when unreadable or too large: the build then says what is wrong."""
    try:
        data = read_limited(path)
    except OSError:
        return None
    return None if data is None else data.decode("utf-8", "surrogateescape")


def request_key(request: Mapping[str, object]) -> str:
    """Which memo a request maps to: every option that can change the result, as given."""
    text = json.dumps({"memo-key-version": MEMO_KEY_VERSION, **request}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def may_memoize(dockerfile_text: str) -> bool:
    if "add" not in dockerfile_text.lower():
        return True
    return re.search(_REMOTE_ADD, dockerfile_text, re.IGNORECASE | re.MULTILINE) is None


def fingerprint(dockerfile_text: str, ignore_files: Iterable[Path], context: Path) -> str:
    digest = hashlib.sha256()
    digest.update(dockerfile_text.encode("utf-8", "surrogateescape"))
    for path in ignore_files:
        try:
            digest.update(b"\0ignore\0" + (read_limited(path) or b"\0too-large\0"))
        except OSError:
            digest.update(b"\0no-ignore\0")
    digest.update(b"\0context\0")
    _walk_metadata(context, "", digest)
    return digest.hexdigest()


def _walk_metadata(directory: Path, prefix: str, digest: "hashlib._Hash") -> None:
    # Depth first in name order, as a recursive walk, but with a stack: a context may nest thousands deep.
    pending = [(_sorted_entries(directory), prefix)]
    while pending:
        entries, current_prefix = pending[-1]
        entry = next(entries, None)
        if entry is None:
            pending.pop()
            continue
        info = entry.stat(follow_symlinks=False)
        relative = current_prefix + entry.name
        digest.update(
            f"{relative}\0{info.st_mode:o}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\0"
            f"{info.st_ino}\n".encode("utf-8", "surrogateescape")
        )
        if stat.S_ISDIR(info.st_mode):
            pending.append((_sorted_entries(Path(entry.path)), relative + "/"))


def _sorted_entries(directory: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as scan:
        return iter(sorted(scan, key=lambda entry: entry.name))
