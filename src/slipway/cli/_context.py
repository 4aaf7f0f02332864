"""What every command shares: the store root and flags resolved once, passed down (no global state)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class AppContext(NamedTuple):
    root: Path
    debug: bool = False


def default_root(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).absolute()
    if os.geteuid() == 0:
        return Path("/var/lib/slipway")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "slipway"
