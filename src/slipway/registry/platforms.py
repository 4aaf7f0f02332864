"""Platforms: parsing "os/arch[/variant]", the host's, and picking an index entry as containerd's matcher does."""

from __future__ import annotations

import platform as host
from collections.abc import Sequence

from slipway.errors import UsageError
from slipway.image.oci import Descriptor, Platform

_ARCHITECTURES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}
_IMPLIED_VARIANTS = {"armhf": "v7", "armel": "v6"}
# A variant left out means this one (arm64 is v8; arm defaults to v7, as containerd's normalization does).
_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7", "amd64": "v1"}


def parse_platform(text: str) -> Platform:
    """ "linux/arm64/v8" -> Platform; the OS and architecture normalized ("x86_64" -> "amd64")."""
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"invalid platform {text!r}: expected os/arch or os/arch/variant, e.g. linux/amd64")
    variant = parts[2] if len(parts) == 3 else _IMPLIED_VARIANTS.get(parts[1])
    return normalize(Platform(architecture=parts[1], os=parts[0], variant=variant))


def host_platform() -> Platform:
    machine = host.machine().lower()
    return normalize(Platform(architecture=machine, os="linux", variant=_IMPLIED_VARIANTS.get(machine)))


def normalize(platform: Platform) -> Platform:
    architecture = _ARCHITECTURES.get(platform.architecture, platform.architecture)
    variant = platform.variant or _DEFAULT_VARIANTS.get(architecture)
    return Platform(architecture=architecture, os=platform.os.lower(), variant=variant)


def format_platform(platform: Platform) -> str:
    text = f"{platform.os}/{platform.architecture}"
    # amd64/v1 is plain amd64 everywhere users see it.
    if platform.variant and (platform.architecture, platform.variant) != ("amd64", "v1"):
        return f"{text}/{platform.variant}"
    return text


def select_manifest(manifests: Sequence[Descriptor], wanted: Platform) -> Descriptor | None:
    """The index entry that best runs on `wanted`: its exact variant first, else the highest older variant
    (an arm/v7 host runs arm/v6 and v5; amd64/v3 runs v2 and v1). None when no entry fits."""
    wanted = normalize(wanted)
    best: tuple[int, int] | None = None
    chosen: Descriptor | None = None
    for position, descriptor in enumerate(manifests):
        if descriptor.platform is None:
            continue
        rank = _variant_rank(wanted, normalize(descriptor.platform))
        if rank is not None and (best is None or (rank, position) < best):
            best, chosen = (rank, position), descriptor
    return chosen


def runs_on(candidate: Platform, wanted: Platform) -> bool:
    """Whether an image built for `candidate` runs on `wanted` (same OS and architecture, an older variant)."""
    return _variant_rank(normalize(wanted), normalize(candidate)) is not None


def _variant_rank(wanted: Platform, candidate: Platform) -> int | None:
    if candidate.os != wanted.os or candidate.architecture != wanted.architecture:
        return None
    if candidate.variant == wanted.variant:
        return 0
    want, have = _variant_number(wanted.variant), _variant_number(candidate.variant)
    if want is None or have is None or have > want:
        return None
    return want - have


def _variant_number(variant: str | None) -> int | None:
    if variant and variant[0] == "v" and variant[1:].isdigit():
        return int(variant[1:])
    return None
