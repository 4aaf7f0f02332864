"""An unprivileged user for the rootless tests, and a way to run `slipway` as that user.

The tests run as root with an interpreter and a checkout that may live where other users cannot reach (pyenv
under /root, a CI clone in root's home). `command_as` starts the command through `unshare --mount` as root:
in that private mount namespace (gone when the command ends, nothing left on the host) the directories on the
way to them that the user may not enter are covered by a tmpfs, with the interpreter and the source tree bound
back at their own paths; then it drops to the user (setgid, setuid, no supplementary groups) and execs.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBID_COUNT = 65536


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: Path


@contextmanager
def unprivileged_user(prefix: str, *, subids: bool = True) -> Iterator[User]:
    """A fresh user with a home under /tmp and (unless `subids` is False) a subordinate id range; removed after,
    with its home and its /etc/subuid and /etc/subgid lines."""
    name = f"{prefix}{os.getpid() % 100000}"
    home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir="/tmp")) / "home"
    home.parent.chmod(0o755)
    argv = ["useradd", "--home-dir", str(home), "--create-home", "--shell", "/bin/sh", "--user-group"]
    if not subids:
        argv += ["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]
    subprocess.run([*argv, name], check=True, capture_output=True)
    try:
        entry = pwd.getpwnam(name)
        if subids and name not in Path("/etc/subuid").read_text():
            start = 200000 + (os.getpid() % 1000) * SUBID_COUNT
            span = f"{start}-{start + SUBID_COUNT - 1}"
            subprocess.run(["usermod", "--add-subuids", span, "--add-subgids", span, name], check=True)
        yield User(name, entry.pw_uid, entry.pw_gid, home)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False, capture_output=True)
        subprocess.run(["userdel", name], check=False, capture_output=True)
        shutil.rmtree(home.parent, ignore_errors=True)


def command_as(
    user: User, argv: list[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> list[str]:
    """argv that runs `argv` (its first word a path) as `user` in `cwd` (default: where it is started), with the
    test's interpreter and source tree reachable, HOME set, `env` added and the PASSED_ON variables of the
    environment it is started with passed on."""
    environment = {
        "HOME": str(user.home),
        "USER": user.name,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(REPO / "src"),
        **({"PWD": str(cwd)} if cwd is not None else {}),
        **(env or {}),
    }
    exposed = sorted(
        {str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve()), str(REPO / "src")}
    )
    launch = [sys.executable, str(Path(__file__).resolve()), str(user.uid), str(user.gid), *exposed, "--"]
    launch += [f"{key}={value}" for key, value in environment.items()] + ["--", *argv]
    return ["unshare", "--mount", "--propagation", "private", "--", *launch]


PASSED_ON = (
    "SOURCE_DATE_EPOCH", "SLIPWAY_PULL_POLICY", "SLIPWAY_RUNTIME", "SLIPWAY_PROCESS_SANDBOX", "SLIPWAY_OVERLAY",
    "LANG", "TERM",
)  # fmt: skip


def slipway_command() -> list[str]:
    """The `slipway` command for the user: this interpreter, `-m slipway`."""
    return [str(Path(sys.executable).resolve()), "-m", "slipway"]


def _blocking_ancestor(path: Path) -> Path | None:
    """The shallowest directory above `path` that others may not enter, if any."""
    for ancestor in reversed(path.parents):
        if ancestor != Path("/") and not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def _expose(paths: list[Path]) -> None:
    """In this (private) mount namespace, make each of `paths` reachable by any user at its own path."""
    by_cover: dict[Path, list[Path]] = {}
    for path in paths:
        cover = _blocking_ancestor(path)
        if cover is not None:
            by_cover.setdefault(cover, []).append(path)
    for cover, inside in by_cover.items():
        staged = []
        for path in inside:
            stage = Path(tempfile.mkdtemp(prefix="expose-"))
            subprocess.run(["mount", "--bind", str(path), str(stage)], check=True)
            staged.append((stage, path))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", str(cover)], check=True)
        for stage, path in staged:
            path.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--move", str(stage), str(path)], check=True)
            stage.rmdir()


def _main(args: list[str]) -> None:
    uid, gid = int(args[0]), int(args[1])
    split = args.index("--")
    paths = [Path(item) for item in args[2:split]]
    rest = args[split + 1 :]
    split = rest.index("--")
    passed_on = {key: value for key, value in os.environ.items() if key in PASSED_ON}
    environment = {**passed_on, **dict(item.split("=", 1) for item in rest[:split])}
    argv = rest[split + 1 :]
    _expose(paths)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if "PWD" in environment:
        os.chdir(environment["PWD"])
    os.execve(argv[0], argv, environment)


if __name__ == "__main__":
    _main(sys.argv[1:])
