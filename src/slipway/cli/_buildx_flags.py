"""The build flags `docker buildx build` scripts pass beyond docker build's: read into what the build takes
(--add-host, --shm-size, --ulimit, --annotation), or accepted with what they mean without a daemon (--load,
--provenance, --sbom; --rm and --force-rm need nothing: no container outlives its step)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from slipway.errors import UsageError

if TYPE_CHECKING:
    from slipway.cli._build_flags import BuildFlags
    from slipway.export.specs import OutputSpec
    from slipway.graph.run_limits import RunLimits

__all__ = ["manifest_annotations", "check_load", "run_limits", "warn_attestations"]

# buildx's annotation levels; the image manifest's is the one a store image has.
_MANIFEST = "manifest"
_OTHER_LEVELS = ("index", "manifest-descriptor", "index-descriptor")
_DISABLED = ("false", "0", "off")


def run_limits(flags: BuildFlags) -> RunLimits | None:
    """--add-host, --shm-size, --ulimit as one value; None when none is given (the RUN digests stay as they
    were before the flags existed)."""
    if not (flags.add_hosts or flags.shm_size is not None or flags.ulimits):
        return None
    from slipway.graph.run_limits import RunLimits, parse_add_host, parse_shm_size, parse_ulimit

    return RunLimits(
        extra_hosts=tuple(parse_add_host(text) for text in flags.add_hosts),
        shm_size=parse_shm_size(flags.shm_size) if flags.shm_size is not None else None,
        ulimits=tuple(parse_ulimit(text) for text in flags.ulimits),
    )


def manifest_annotations(flags: BuildFlags) -> tuple[tuple[str, str], ...]:
    """--annotation [manifest:]KEY=VALUE, in order (a key given twice: the last value)."""
    found: dict[str, str] = {}
    for text in flags.annotations:
        key, separator, value = text.partition("=")
        level, colon, rest = key.partition(":")
        if colon and (level in _OTHER_LEVELS or level.startswith(("manifest[", "index["))):
            raise UsageError(
                f"--annotation {text}: slipway sets manifest annotations only; write {rest}={value} or "
                f"manifest:{rest}={value}"
            )
        if colon and level == _MANIFEST:
            key = rest
        if not separator or not key:
            raise UsageError(f"--annotation {text!r}: expected [manifest:]KEY=VALUE")
        found[key] = value
    return tuple(found.items())


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
