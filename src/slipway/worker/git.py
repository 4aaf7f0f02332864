"""A git repository checked out into a directory, through the `git` binary, as BuildKit's git source does it.

The ref is resolved first with `git ls-remote` (a full commit id needs no lookup), with BuildKit's rules: a
branch wins over a tag of the same name, `--checksum`/`?commit=` must be a prefix of the resolved commit.
Then only that commit is fetched (shallow where the server allows it; the "dumb" HTTP protocol does not,
and gets a full fetch) into a fresh repository of the remote's object format, and checked out detached.
The checkout has no .git unless asked to keep it. Errors are one line: what failed, on what URL.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from slipway.errors import ContextError
from slipway.graph.ops import GitSource
from slipway.worker.runtime import SAFE_PATH

__all__ = ["GitCheckout", "check_out"]

log = logging.getLogger(__name__)

GIT_TIMEOUT_SECONDS = 600
OUTPUT_TAIL = 500
# As BuildKit's git source without known hosts: no host key is checked, none remembered, no password asked;
# the user's ssh config is not read (the keys are the lent agent's).
_SSH_COMMAND = (
    "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    " -o LogLevel=ERROR"
)
_NOISE = ("warning:", "hint:", "Warning: Permanently added")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-fA-F]+")


class GitCheckout(NamedTuple):
    tree: Path
    commit: str  # the commit checked out
    committed: int  # its committer date, in seconds (SOURCE_DATE_EPOCH=context of a git context)


class _Resolved(NamedTuple):
    ref: str | None  # the full ref to fetch (None: fetch the commit itself)
    commit: str


def check_out(source: GitSource, tree: Path, what: str, *, ssh_agent: Path | None = None) -> GitCheckout:
    """Check `source` out into the (empty or missing) directory `tree`; `what` names it in errors
    ("ADD https://...", "build context https://..."). An ssh:// or user@host: remote is reached with the
    keys of the agent at `ssh_agent` (--ssh default), as BuildKit's git source does."""
    git = _Git(what, ssh_agent)
    if source.checksum is not None and _HEX.fullmatch(source.checksum) is None:
        raise ContextError(
            f"{what}: invalid checksum {source.checksum} for Git URL, expected hex commit hash"
        )
    resolved = _resolve(git, source)
    tree.mkdir(parents=True, exist_ok=True)
    object_format = "sha256" if len(resolved.commit) == 64 else "sha1"
    git.run(tree, "init", "-q", f"--object-format={object_format}")
    git.run(tree, "remote", "add", "origin", source.url)
    wanted = resolved.ref or resolved.commit
    try:
        git.run(tree, "fetch", "-q", "--depth", "1", "--no-tags", "origin", wanted)
    except ContextError:
        # The "dumb" HTTP protocol (and servers that refuse a commit id) cannot fetch shallowly: fetch all.
        log.debug("shallow fetch of %s at %s failed; fetching everything", source.url, wanted)
        git.run(tree, "fetch", "-q", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*")
    git.run(tree, "checkout", "-q", "--detach", resolved.commit)
    if source.submodules and (tree / ".gitmodules").is_file():
        try:
            git.run(tree, "submodule", "update", "-q", "--init", "--recursive", "--depth", "1")
        except ContextError:
            git.run(tree, "submodule", "update", "-q", "--init", "--recursive")
    committed = int(git.run(tree, "show", "-s", "--format=%ct", resolved.commit).strip() or 0)
    if not source.keep_git_dir:
        shutil.rmtree(tree / ".git")
    return GitCheckout(tree, resolved.commit, committed)


def _resolve(git: _Git, source: GitSource) -> _Resolved:
    """The commit `source.ref` names on the remote (BuildKit's resolveMetadataFromURL), checked against
    `source.checksum`."""
    ref, checksum = source.ref, source.checksum
    if ref is not None and _COMMIT.fullmatch(ref):
        if checksum is not None and not ref.startswith(checksum.lower()):
            raise ContextError(f"{git.what}: expected checksum to match {checksum}, got {ref}")
        return _Resolved(None, ref)
    if ref is None:
        ref = _default_branch(git, source.url)
    listing = git.output("ls-remote", "--", source.url, ref, ref + "^{}")
    shas: dict[str, str] = {}
    for line in listing.splitlines():
        sha, _, name = line.partition("\t")
        shas[name] = sha
    bare = ref.removeprefix("refs/")
    head, tag = "refs/heads/" + ref.removeprefix("refs/heads/"), "refs/tags/" + ref.removeprefix("refs/tags/")
    # As git checkout: a branch wins over a tag of the same name; an annotated tag is peeled.
    for name in ("refs/" + bare, head, tag):
        if name in shas:
            commit = shas.get(name + "^{}", shas[name]) if name == tag else shas[name]
            break
    else:
        raise ContextError(f"{git.what}: repository does not contain ref {ref}")
    if checksum is not None and not (commit.startswith(checksum.lower()) or shas[name].startswith(checksum)):
        raise ContextError(f"{git.what}: expected checksum to match {checksum}, got {commit}")
    return _Resolved(name, commit)


def _default_branch(git: _Git, url: str) -> str:
    for line in git.output("ls-remote", "--symref", "--", url, "HEAD").splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            return line[len("ref: ") : -len("\tHEAD")]
    return "HEAD"


class _Git:
    """The git binary, run with a clean environment; a failure is a ContextError naming `what`."""

    def __init__(self, what: str, ssh_agent: Path | None) -> None:
        self.what = what
        self.ssh_agent = ssh_agent
        binary = shutil.which("git", path=SAFE_PATH)
        if binary is None:
            raise ContextError(f"{what}: git is not installed (apt-get install git)")
        self.binary = binary

    def run(self, cwd: Path | None, *args: str) -> str:
        argv = [self.binary, "-c", "advice.detachedHead=false", "-c", "protocol.file.allow=always", *args]
        env = {
            "PATH": SAFE_PATH,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": "/nonexistent",
            "GIT_SSH_COMMAND": _SSH_COMMAND,
        }
        if self.ssh_agent is not None:
            env["SSH_AUTH_SOCK"] = str(self.ssh_agent)
        try:
            completed = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=GIT_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired as err:
            raise ContextError(
                f"{self.what}: git {args[0]} took longer than {GIT_TIMEOUT_SECONDS} s"
            ) from err
        if completed.returncode != 0:
            stderr = completed.stderr.decode(errors="replace")
            # The first line says what went wrong; git's advice ("Please make sure ...") follows it.
            lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(_NOISE)]
            first = lines[0][-OUTPUT_TAIL:] if lines else f"exit code {completed.returncode}"
            if self.ssh_agent is None and "Permission denied (publickey" in stderr:
                first += " (lend an SSH agent with --ssh default)"
            raise ContextError(f"{self.what}: git {args[0]} failed: {first}")
        return completed.stdout.decode(errors="replace")

    def output(self, *args: str) -> str:
        return self.run(None, *args)
