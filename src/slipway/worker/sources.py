"""Remote sources of ADD: an http(s) URL through httpx (a git repository: worker/git.py).

Each lands in a directory the caller gives (a temp dir), as a tree that copy_files then copies like
local files. As BuildKit: a download is one file of mode 0600 whose mtime is the server's
Last-Modified.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import posixpath
import tarfile
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import httpx

from slipway.errors import ContextError
from slipway.graph.ops import HttpSource

__all__ = [
    "Download",
    "download",
    "download_epoch",
    "download_name",
    "fetch_url",
    "http_epoch",
    "is_unchanged",
]

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(60.0, connect=30.0)
CHUNK = 1 << 20


def download_name(url: str) -> str:
    """The file name Docker gives a download: the last segment of the URL's path."""
    name = posixpath.basename(unquote(urlsplit(url).path))
    return name if name not in ("", ".", "..") else "index.html"


class Download(NamedTuple):
    path: Path
    modified: float | None  # the server's Last-Modified, in seconds (the file's mtime too)
    etag: str | None
    last_modified: str | None  # the Last-Modified header as the server wrote it


def fetch_url(source: HttpSource, tree: Path, *, what: str = "ADD", max_bytes: int | None = None) -> Path:
    """Download `source.url` into `tree` as `source.filename`; checks `source.checksum` if given. `what` names
    the download in errors; `max_bytes` bounds it."""
    return download(source, tree, what=what, max_bytes=max_bytes).path


def is_unchanged(url: str, etag: str | None, last_modified: str | None) -> bool:
    """Whether the server says `url` is what it was when it sent this ETag or Last-Modified: a HEAD with
    If-None-Match / If-Modified-Since (BuildKit's HTTP source asks so on a rebuild). No answer is a change."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    if not headers:
        return False  # nothing to ask with
    try:
        with httpx.Client(follow_redirects=True, timeout=TIMEOUT) as client:
            response = client.head(url, headers=headers)
    except httpx.HTTPError as err:
        log.debug("HEAD %s: %s", url, err)
        return False
    if response.status_code == 304:
        return True
    return response.status_code < 300 and etag is not None and response.headers.get("etag") == etag


def http_epoch(source: HttpSource, tree: Path) -> int | None:
    """BuildKit's SOURCE_DATE_EPOCH of an HTTP source: its Last-Modified, else the newest regular file of the
    (maybe compressed) tar it serves; None when it is neither dated nor an archive. Downloaded into `tree`."""
    return download_epoch(download(source, tree))


def download_epoch(downloaded: Download) -> int | None:
    """The date BuildKit gives a download (http_epoch's rule): the server's Last-Modified, else the newest
    regular file of the tar archive it is, else None."""
    if downloaded.modified is not None:
        return int(downloaded.modified)
    newest: int | None = None
    try:
        with tarfile.open(downloaded.path, "r:*") as archive:
            for member in archive:
                if member.isreg():
                    newest = int(member.mtime) if newest is None else max(newest, int(member.mtime))
    except (tarfile.TarError, OSError, EOFError):
        return None  # not an archive: BuildKit's allowNonArchive
    return newest


def download(source: HttpSource, tree: Path, *, what: str = "ADD", max_bytes: int | None = None) -> Download:
    """`source.url` downloaded into `tree` as `source.filename` (its checksum checked), with what the server
    said of it."""
    shown = f"{what} {source.url}"
    name = source.filename or download_name(source.url)
    if "/" in name or name in (".", ".."):
        raise ContextError(f"{shown}: {name!r} is not a file name")
    target = tree / name
    partial = tree / f".{name}.part"
    digest = hashlib.new(_algorithm(source))
    try:
        with (
            httpx.Client(follow_redirects=True, timeout=TIMEOUT) as client,
            client.stream("GET", source.url) as response,
        ):
            if response.status_code >= 400:
                raise ContextError(
                    f"{shown}: the server answered {response.status_code} {response.reason_phrase}"
                )
            header = response.headers.get("last-modified")
            modified = _last_modified(header)
            etag = response.headers.get("etag")
            written = 0
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise ContextError(f"{shown}: larger than {max_bytes:,} bytes: refused")
                    digest.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as err:
        partial.unlink(missing_ok=True)
        raise ContextError(f"{shown}: download failed: {err}") from err
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _check_digest(source, digest, partial)
    os.chmod(partial, 0o600)
    if modified is not None:
        os.utime(partial, (modified, modified))
    os.replace(partial, target)
    return Download(target, modified, etag, header)


def _algorithm(source: HttpSource) -> str:
    if source.checksum is None:
        return "sha256"
    algorithm, _, value = source.checksum.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512") or not value:
        raise ContextError(f"ADD --checksum={source.checksum}: expected sha256:<hex> (or sha384, sha512)")
    return algorithm


def _check_digest(source: HttpSource, digest: hashlib._Hash, partial: Path) -> None:
    if source.checksum is None:
        return
    actual = f"{digest.name}:{digest.hexdigest()}"
    if actual != source.checksum.lower():
        partial.unlink(missing_ok=True)
        raise ContextError(f"ADD {source.url}: checksum mismatch: expected {source.checksum}, got {actual}")


def _last_modified(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None
