"""What the host-escape cases check on the host, and small helpers of their tests.

Imported as `_host`: tests/security has no __init__.py, so pytest puts it on sys.path.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import build_helpers

helpers = build_helpers.load()

ETC_FILES = ("passwd", "group", "hostname", "hosts", "resolv.conf", "shadow")


@dataclass
class Host:
    """The part of the host an escape would touch, and its state before the attack."""

    canaries: Path  # a tree outside the store: files, an empty file, dirs (one holding b/c, as stubs would)
    before: dict[str, str] = field(default_factory=dict)

    def state(self) -> dict[str, str]:
        seen = {}
        for path in sorted([self.canaries, *self.canaries.rglob("*")]):
            info = path.lstat()
            kind = "l " + os.readlink(path) if path.is_symlink() else "d" if path.is_dir() else "f"
            content = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
            seen[str(path)] = (
                f"{kind} {stat.S_IMODE(info.st_mode):o} {info.st_uid}:{info.st_gid} {info.st_mtime_ns} {content}"
            )
        for name in ETC_FILES:
            path = Path("/etc") / name
            if path.is_file():
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        seen["/etc entries"] = " ".join(sorted(os.listdir("/etc")))
        seen["/ entries"] = " ".join(sorted(os.listdir("/")))
        return seen

    def assert_intact(self) -> None:
        after = self.state()
        changed = {key: (self.before.get(key), after.get(key)) for key in self.before.keys() | after.keys()}
        changed = {key: values for key, values in changed.items() if values[0] != values[1]}
        assert not changed, f"the host changed: {changed}"

    @property
    def secret(self) -> str:
        return (self.canaries / "secret.txt").read_text().strip()


def context(directory: Path, dockerfile: str, files: dict[str, str | bytes] | None = None) -> Path:
    return helpers.make_context(directory, dockerfile, files)


def failure(result: subprocess.CompletedProcess[str]) -> str:
    """The error output of a command that must have failed with a message, not a traceback."""
    assert result.returncode != 0, helpers.describe(result)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr
