"""Install the peers from Debian's packages when they are missing."""

from __future__ import annotations

import shutil
import subprocess
import sys

# command -> Debian package that provides it
NEEDED = {"dockerd": "docker.io", "/usr/bin/docker": "docker.io", "buildah": "buildah", "runc": "runc"}


def ensure_packages() -> None:
    missing = sorted({package for command, package in NEEDED.items() if shutil.which(command) is None})
    if not missing:
        return
    print(f"installing {', '.join(missing)} with apt-get", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-q"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True)
