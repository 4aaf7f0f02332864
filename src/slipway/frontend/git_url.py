"""BuildKit's git URL grammar (dfgitutil.ParseGitRef): which texts name a git repository, and what they ask for.

    https://host/repo.git#ref:subdir      git@host:repo.git#ref      ssh://host/repo      git://host/repo
    https://host/repo.git?ref=R&tag=T&branch=B&commit=C&subdir=D&keep-git-dir=true&submodules=false

An http(s) URL names a repository only when its path ends in ".git"; the fragment's `ref:subdir` and the query
string's keys may be mixed as long as they agree. Standard library only: the build memo asks `is_git_url` of
the context argument before anything else is imported.
"""

import posixpath
import re
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["GitUrl", "GitUrlError", "is_git_url", "parse_git_url"]

_SCHEME = re.compile(r"^([a-zA-Z0-9]+)://")
_GIT_SCHEMES = ("http", "https", "ssh", "git")
# sshutil.IsImplicitSSHTransport: user@host:path, scp-style.
_SCP_STYLE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")
_FLAG_KEYS = ("submodules", "keep-git-dir")  # keys that may come without a value, meaning true


class GitUrlError(ValueError):
    """A git URL that does not parse; the caller names where it was written."""


class GitUrl(NamedTuple):
    remote: str  # what git fetches from: the URL without fragment and query
    ref: str | None  # a branch, a tag, a commit or a full ref ("refs/tags/v1"); None: the default branch
    subdir: str  # "" for the repository's root
    checksum: str | None  # the commit the ref must resolve to (?commit=, ?checksum=)
    keep_git_dir: bool | None  # None: not said in the URL
    submodules: bool  # check out submodules (the default)


def is_git_url(text: str) -> bool:
    """Whether `text` names a git repository, as BuildKit tells a git URL from a local path or a plain URL."""
    scheme = _SCHEME.match(text)
    if scheme is None:
        return _SCP_STYLE.match(text) is not None
    name = scheme.group(1).lower()
    if name in ("http", "https"):
        return urlsplit(text).path.endswith(".git")
    return name in _GIT_SCHEMES


def parse_git_url(text: str) -> GitUrl:
    """The parts of git URL `text` (is_git_url must hold); GitUrlError when its query or fragment is wrong."""
    scheme = _SCHEME.match(text)
    if scheme is not None and scheme.group(1).lower() not in _GIT_SCHEMES:
        raise GitUrlError(f"{text}: unsupported protocol {scheme.group(1)!r}")
    if scheme is None:  # scp-style: no query string, only a fragment
        remote, _, fragment = text.partition("#")
        query = ""
    else:
        parts = urlsplit(text)
        remote = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        fragment, query = parts.fragment, parts.query
    ref, _, subdir = fragment.partition(":")
    fields: dict[str, object] = {"ref": ref or None, "subdir": _clean_subdir(subdir)}
    _apply_query(fields, _query_values(query))
    return GitUrl(
        remote=remote,
        ref=fields["ref"],  # type: ignore[arg-type]
        subdir=fields["subdir"],  # type: ignore[arg-type]
        checksum=fields.get("checksum"),  # type: ignore[arg-type]
        keep_git_dir=fields.get("keep-git-dir"),  # type: ignore[arg-type]
        submodules=fields.get("submodules", True),  # type: ignore[arg-type]
    )


def _clean_subdir(subdir: str) -> str:
    return posixpath.normpath("/" + subdir).lstrip("/") if subdir else ""


def _query_values(query: str) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in values:
            raise GitUrlError(f"query {key!r} has multiple values")
        if value == "" and key not in _FLAG_KEYS:
            raise GitUrlError(f"query {key!r} has no value")
        values[key] = value or None
    return values


def _apply_query(fields: dict[str, object], values: dict[str, str | None]) -> None:
    """dfgitutil's loadQuery: ref, tag, branch, subdir, commit (checksum), keep-git-dir, submodules."""
    tag = branch = None
    for key, value in values.items():
        match key:
            case "ref":
                _set_agreeing(fields, "ref", value, "ref")
            case "tag":
                tag = value
            case "branch":
                branch = value
            case "subdir":
                _set_agreeing(fields, "subdir", _clean_subdir(value or ""), "subdir")
            case "checksum" | "commit":
                fields["checksum"] = value
            case "keep-git-dir" | "submodules":
                fields[key] = _boolean(key, value)
            case _:
                raise GitUrlError(f"unexpected query {key!r}")
    if tag is not None:
        _set_agreeing(fields, "ref", tag if tag.startswith("refs/tags/") else "refs/tags/" + tag, "ref")
    if branch is not None:
        if tag is not None:
            raise GitUrlError("branch conflicts with tag")
        full = branch if branch.startswith("refs/heads/") else "refs/heads/" + branch
        _set_agreeing(fields, "ref", full, "ref")


def _set_agreeing(fields: dict[str, object], key: str, value: object, what: str) -> None:
    current = fields.get(key)
    if current and current != value:
        raise GitUrlError(f"{what} conflicts: {current!r} vs {value!r}")
    fields[key] = value


def _boolean(key: str, value: str | None) -> bool:
    if value is None:
        return True
    if value.lower() in ("1", "t", "true"):
        return True
    if value.lower() in ("0", "f", "false"):
        return False
    raise GitUrlError(f"invalid {key} value: {value!r}")
