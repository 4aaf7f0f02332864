"""The build flags `docker buildx build` scripts pass beyond docker build's that mean little without a daemon:
--load (the store is where an image goes anyway), --provenance and --sbom; --rm and --force-rm need nothing (no
container outlives its step). --add-host, --shm-size, --ulimit are read by graph/run_limits.py, --annotation
by export/specs.py, for the command line and `slipway.build` alike."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from slipway.errors import UsageError

if TYPE_CHECKING:
    from slipway.cli._build_flags import BuildFlags
    from slipway.export.specs import OutputSpec

__all__ = ["check_load", "warn_attestations"]

_DISABLED = ("false", "0", "off")


def check_load(flags: BuildFlags, output: OutputSpec) -> None:
    """--load puts the image where slipway keeps it anyway (the store): not with another output."""
    if flags.load and (output.type != "image" or output.push):
        raise UsageError(
            f"--load and --output type={output.type}{' (--push)' if output.push else ''} cannot be used "
            "together: --load means the store, slipway's default output"
        )


def warn_attestations(flags: BuildFlags) -> None:
    """--provenance and --sbom: accepted; asked for (any value but false), a warning that none is made."""
    for flag, value in (("--provenance", flags.provenance), ("--sbom", flags.sbom)):
        if value is not None and value.strip().lower() not in _DISABLED:
            print(
                f"WARNING: {flag}={value}: slipway makes no attestations; the image has none",
                file=sys.stderr,
                flush=True,
            )
