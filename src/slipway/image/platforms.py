"""Platforms: parsing "os/arch[/variant]", the host's, and picking an index entry as containerd's matcher does."""

from __future__ import annotations

import platform as host
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from slipway.errors import UsageError
from slipway.image.oci import Descriptor, ImageConfig, Platform

T = TypeVar("T")

_ARCHITECTURES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
}
# GOARCH names, as containerd's platforms.Parse knows them: a lone word must be one of these or an OS.
ARCHITECTURES = (
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le",
    "riscv64", "s390x", "wasm",
)  # fmt: skip
_IMPLIED_VARIANTS = {"armhf": "v7", "armel": "v6", "armv7l": "v7", "armv6l": "v6"}
# A variant left out means this one (arm64 is v8; arm defaults to v7, as containerd's normalization does).
_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7", "amd64": "v1"}


# The operating systems a lone word may name (containerd's platforms.Parse: "windows" is windows/<host arch>).
OPERATING_SYSTEMS = (
    "aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux", "netbsd", "openbsd",
    "plan9", "solaris", "wasip1", "windows",
)  # fmt: skip
_OS_VERSION = re.compile(r"([a-z0-9_-]+)\(([a-z0-9_.+-]+)\)")


def parse_platform(text: str) -> Platform:
    """containerd's platforms.Parse: "linux/arm64/v8", "windows(10.0.20348)/amd64", or a lone OS ("linux": this
    machine's architecture) or architecture ("arm64": linux); normalized ("x86_64" -> "amd64", arm -> arm/v7)."""
    parts = text.strip().lower().split("/")
    if len(parts) > 3 or not all(parts):
        raise UsageError(f"invalid platform {text!r}: expected os/arch or os/arch/variant, e.g. linux/amd64")
    if len(parts) == 1:
        if parts[0] in OPERATING_SYSTEMS:
            parts.append(host_platform().architecture)
        elif parts[0] in ARCHITECTURES or parts[0] in _ARCHITECTURES:
            parts.insert(0, "linux")
        else:
            raise UsageError(f"invalid platform {text!r}: unknown operating system or architecture")
    os_name, os_version = parts[0], None
    versioned = _OS_VERSION.fullmatch(os_name)
    if versioned is not None:
        os_name, os_version = versioned.groups()
    elif "(" in os_name or ")" in os_name:
        raise UsageError(
            f"invalid platform {text!r}: an OS version is written os(version), e.g. windows(10.0)"
        )
    variant = parts[2] if len(parts) == 3 else _IMPLIED_VARIANTS.get(parts[1])
    return normalize(Platform(architecture=parts[1], os=os_name, variant=variant, os_version=os_version))


def split_platforms(text: str) -> tuple[str, ...]:
    """--platform "linux/amd64,linux/arm64": each platform once, in the order given (each checked later)."""
    platforms = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    if not all(platforms):
        raise UsageError(f"invalid platform list {text!r}: an empty platform between commas")
    return platforms


def host_platform() -> Platform:
    machine = host.machine().lower()
    return normalize(Platform(architecture=machine, os="linux", variant=_IMPLIED_VARIANTS.get(machine)))


def normalize(platform: Platform) -> Platform:
    architecture = _ARCHITECTURES.get(platform.architecture, platform.architecture)
    variant = platform.variant or _DEFAULT_VARIANTS.get(architecture)
    return Platform(
        architecture=architecture,
        os=platform.os.lower(),
        variant=variant,
        os_version=platform.os_version or None,
    )


def shown_variant(platform: Platform) -> str | None:
    """The variant as users see it: none for amd64/v1 and arm64/v8, which are plain amd64 and arm64."""
    if (platform.architecture, platform.variant) in (("amd64", "v1"), ("arm64", "v8")):
        return None
    return platform.variant


def format_platform(platform: Platform) -> str:
    """containerd's FormatAll: "linux/arm/v7", "windows(10.0.20348)/amd64"."""
    os_name = f"{platform.os}({platform.os_version})" if platform.os_version else platform.os
    variant = shown_variant(platform)
    return f"{os_name}/{platform.architecture}" + (f"/{variant}" if variant else "")


def image_platform(config: ImageConfig) -> Platform:
    """The platform an image config says it is for, normalized."""
    return normalize(
        Platform(
            architecture=config.architecture,
            os=config.os,
            variant=config.variant,
            os_version=config.os_version,
        )
    )


def select_manifest(manifests: Sequence[Descriptor], wanted: Platform) -> Descriptor | None:
    """The index entry that best runs on `wanted`: its exact variant first, else the highest older variant
    (an arm/v7 host runs arm/v6 and v5; amd64/v3 runs v2 and v1). None when no entry fits."""
    with_platform = [descriptor for descriptor in manifests if descriptor.platform is not None]
    return select_image(with_platform, wanted, lambda descriptor: descriptor.platform or wanted)


def select_image(candidates: Sequence[T], wanted: Platform, platform_of: Callable[[T], Platform]) -> T | None:
    """Of `candidates`, the one that best runs on `wanted` (as select_manifest); None when none does."""
    wanted = normalize(wanted)
    best: tuple[int, int] | None = None
    chosen: T | None = None
    for position, candidate in enumerate(candidates):
        rank = _variant_rank(wanted, normalize(platform_of(candidate)))
        if rank is not None and (best is None or (rank, position) < best):
            best, chosen = (rank, position), candidate
    return chosen


def runs_on(candidate: Platform, wanted: Platform) -> bool:
    """Whether an image built for `candidate` runs on `wanted` (same OS and architecture, an older variant)."""
    return _variant_rank(normalize(wanted), normalize(candidate)) is not None


def _variant_rank(wanted: Platform, candidate: Platform) -> int | None:
    if candidate.os != wanted.os or candidate.architecture != wanted.architecture:
        return None
    # An OS version asked for must be the image's (containerd compares them for Windows, where they matter).
    if wanted.os_version and candidate.os_version and wanted.os_version != candidate.os_version:
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
