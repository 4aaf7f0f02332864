"""The build flags `docker buildx build` scripts pass beyond docker build's that mean little without a daemon:
--provenance and --sbom; --rm and --force-rm need nothing (no container outlives its step). --load (the store,
where an image goes anyway) is read with --output by export/specs.build_outputs; --add-host, --shm-size, --ulimit
by graph/run_limits.py, --annotation by export/specs.py, for the command line and `slipway.build` alike."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slipway.cli._build_flags import BuildFlags

__all__ = ["warn_attestations"]

_DISABLED = ("false", "0", "off")


def warn_attestations(flags: BuildFlags) -> None:
    """--provenance and --sbom: accepted; asked for (any value but false), a warning that none is made."""
    for flag, value in (("--provenance", flags.provenance), ("--sbom", flags.sbom)):
        if value is not None and value.strip().lower() not in _DISABLED:
            print(
                f"WARNING: {flag}={value}: slipway makes no attestations; the image has none",
                file=sys.stderr,
                flush=True,
            )
