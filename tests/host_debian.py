"""A Debian base image made offline from the host's own installed packages (tests only).

The tests may reach no registry, so a base image that a Dockerfile's `apt-get install` would give is made here
instead: the files `dpkg -L` lists for a set of packages and everything they depend on, copied from this
(Debian) host into a merged-/usr root file system, as debootstrap would lay them out. Importable by name
(`import host_debian`): tests/ is on sys.path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

# Debian bookworm's merged /usr: these top-level names are symlinks into /usr.
MERGED_USR = ("bin", "sbin", "lib", "lib64")
EMPTY_DIRECTORIES = ("dev", "proc", "sys", "tmp", "root", "run", "home", "var/tmp", "etc")


def dpkg_query(*args: str) -> str:
    return subprocess.run(["dpkg-query", *args], capture_output=True, text=True, check=False).stdout


def dependency_closure(packages: Iterable[str]) -> list[str]:
    """`packages` and every package they (pre-)depend on, as installed here (first alternative that is)."""
    installed: dict[str, str] = {}
    providers: dict[str, str] = {}
    for line in dpkg_query("-W", "-f=${db:Status-Abbrev}\t${Package}\t${Provides}\n").splitlines():
        status, name, provides = line.split("\t")
        if not status.startswith("ii"):
            continue
        installed[name] = name
        for provided in provides.split(","):
            providers.setdefault(provided.strip().split(" ")[0], name)
    seen: set[str] = set()
    todo = list(packages)
    while todo:
        wanted = todo.pop()
        name = installed.get(wanted) or providers.get(wanted)
        if name is None:
            raise LookupError(f"package {wanted} is not installed here: apt-get install {wanted}")
        if name in seen:
            continue
        seen.add(name)
        fields = dpkg_query("-W", "-f=${Pre-Depends},${Depends}", name)
        for clause in fields.split(","):
            choices = [choice.strip().split(" ")[0].split(":")[0] for choice in clause.split("|")]
            present = [choice for choice in choices if choice in installed or choice in providers]
            if present:
                todo.append(present[0])
    return sorted(seen)


def make_rootfs(rootfs: Path, packages: Iterable[str]) -> Path:
    """A root file system at `rootfs` holding the files of `packages` and their dependencies."""
    rootfs.mkdir(parents=True)
    (rootfs / "usr").mkdir()
    for name in MERGED_USR:
        (rootfs / "usr" / name).mkdir()
        (rootfs / name).symlink_to(f"usr/{name}")
    for name in EMPTY_DIRECTORIES:
        (rootfs / name).mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "root").chmod(0o700)
    names = dependency_closure(packages)
    listed = dpkg_query("-L", *names).splitlines()
    for path in sorted({Path(line) for line in listed if line.startswith("/")}):
        _copy_entry(path, rootfs)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\n")
    (rootfs / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (rootfs / "etc" / "gshadow").write_text("root:*::\n")
    (rootfs / "etc" / "shadow").chmod(0o640)
    (rootfs / "etc" / "gshadow").chmod(0o640)
    return rootfs


def _copy_entry(path: Path, rootfs: Path) -> None:
    """Copy one listed path to its place in `rootfs`, its directory resolved as on the host (merged /usr)."""
    if not os.path.lexists(path):
        return  # a file the package's maintainer scripts or the admin removed (docs, locales)
    target = rootfs / os.path.realpath(path.parent).lstrip("/") / path.name
    if os.path.lexists(target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        target.symlink_to(os.readlink(path))
    elif path.is_dir():
        target.mkdir()
        shutil.copystat(path, target)
    elif path.is_file():
        shutil.copy2(path, target)
    else:
        return
    status = path.lstat()
    os.chown(target, status.st_uid, status.st_gid, follow_symlinks=False)
    if not path.is_symlink():
        os.chmod(target, status.st_mode & 0o7777)  # chown drops setuid bits (newuidmap's)
