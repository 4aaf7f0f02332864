from __future__ import annotations

import pytest

from slipway.errors import UsageError
from slipway.image.oci import Descriptor, Digest, Platform
from slipway.image.platforms import format_platform, host_platform, parse_platform, runs_on, select_manifest


def entry(name: str, platform: Platform | None) -> Descriptor:
    return Descriptor(
        media_type="application/vnd.oci.image.manifest.v1+json",
        digest=Digest(name),
        size=1,
        platform=platform,
    )


INDEX = (
    entry("amd64", Platform(architecture="amd64", os="linux")),
    entry("armv5", Platform(architecture="arm", os="linux", variant="v5")),
    entry("armv6", Platform(architecture="arm", os="linux", variant="v6")),
    entry("arm64", Platform(architecture="arm64", os="linux", variant="v8")),
    entry("attestation", Platform(architecture="unknown", os="unknown")),
    entry("windows", Platform(architecture="amd64", os="windows", os_version="10.0.17763.5458")),
)


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [
        ("linux/amd64", "amd64"),
        ("linux/x86_64", "amd64"),
        ("linux/arm64", "arm64"),  # no variant asked: arm64 means v8
        ("linux/arm64/v8", "arm64"),
        ("linux/arm/v6", "armv6"),
        ("linux/arm/v7", "armv6"),  # a v7 machine runs v6: the best older variant
        ("linux/arm", "armv6"),  # arm means arm/v7
        ("linux/arm/v5", "armv5"),
        ("windows/amd64", "windows"),
    ],
)
def test_select_manifest_matches_platform_and_variant(wanted: str, chosen: str) -> None:
    selected = select_manifest(INDEX, parse_platform(wanted))
    assert selected is not None and selected.digest == chosen


def test_no_match() -> None:
    assert select_manifest(INDEX, parse_platform("linux/s390x")) is None
    assert select_manifest(INDEX[:2], parse_platform("linux/arm/v4")) is None


def test_amd64_variants_accept_older_ones_only() -> None:
    index = (
        entry("v1", Platform(architecture="amd64", os="linux")),
        entry("v3", Platform(architecture="amd64", os="linux", variant="v3")),
    )
    assert select_manifest(index, parse_platform("linux/amd64/v2")).digest == "v1"  # type: ignore[union-attr]
    assert select_manifest(index, parse_platform("linux/amd64/v3")).digest == "v3"  # type: ignore[union-attr]


def test_parse_and_format() -> None:
    assert format_platform(parse_platform("linux/aarch64")) == "linux/arm64"  # v8 is what arm64 means
    assert format_platform(parse_platform("linux/arm/v6")) == "linux/arm/v6"
    assert format_platform(parse_platform("Linux/AMD64")) == "linux/amd64"
    assert format_platform(parse_platform("linux/amd64/v3")) == "linux/amd64/v3"
    assert format_platform(parse_platform("linux/arm")) == "linux/arm/v7"  # containerd's normalization
    assert format_platform(parse_platform("arm64")) == "linux/arm64"
    assert parse_platform("linux") == host_platform()
    assert format_platform(parse_platform("windows(10.0.20348)/amd64")) == "windows(10.0.20348)/amd64"
    assert parse_platform("windows(1.2.3)/bar").os_version == "1.2.3"
    for bad in ("foo", "linux/", "a/b/c/d", "", "win(dows/amd64"):
        with pytest.raises(UsageError, match="invalid platform"):
            parse_platform(bad)


def test_runs_on() -> None:
    assert runs_on(Platform("arm", "linux", "v6"), parse_platform("linux/arm/v7"))
    assert not runs_on(Platform("arm", "linux", "v7"), parse_platform("linux/arm/v6"))
    assert runs_on(Platform("amd64", "linux"), parse_platform("linux/amd64"))
    assert not runs_on(Platform("arm64", "linux"), parse_platform("linux/amd64"))
