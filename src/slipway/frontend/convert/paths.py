"""Paths as BuildKit resolves them against the working directory."""

from __future__ import annotations

import posixpath


def join_path(current: str, path: str) -> str:
    """BuildKit's NormalizeWorkdir: a relative path joins the current directory; the result is clean."""
    joined = posixpath.normpath(posixpath.join("/", current or "/", path))
    return "/" + joined.lstrip("/")


def dest_path(workdir: str, dest: str) -> str:
    """BuildKit's pathRelativeToWorkingDir: absolute against WORKDIR, keeping a trailing "/" (a directory)."""
    if dest in ("", "."):
        dest = "./"
    joined = join_path(workdir, dest)
    if (dest.endswith("/") or dest.endswith("/.") or dest == ".") and not joined.endswith("/"):
        joined += "/"
    return joined
