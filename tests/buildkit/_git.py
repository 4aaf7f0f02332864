"""Git repositories for the git tests, as BuildKit's make them (`git init`, commits, `git update-server-info`),
served over loopback HTTP (the "dumb" protocol, as Go's http.FileServer serves them there)."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
    # git refuses file:// submodules by default; the tests add them over http, which is allowed.
    "GIT_ALLOW_PROTOCOL": "file:http",
}


def git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=directory, env=GIT_ENV, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def init_repository(directory: Path, object_format: str = "sha1") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    git(directory, "init", "-q", f"--object-format={object_format}")
    git(directory, "config", "--local", "user.email", "test")
    git(directory, "config", "--local", "user.name", "test")
    return directory


def commit_tagged(directory: Path, tag: str) -> None:
    """makeCommit: foo says which tag it belongs to."""
    (directory / "foo").write_text(f"foo of {tag}\n")
    git(directory, "add", "foo")
    git(directory, "commit", "-q", "-m", tag)
    git(directory, "tag", tag)
