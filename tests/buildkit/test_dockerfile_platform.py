"""BuildKit's frontend/dockerfile/dockerfile_platform_test.go, ported to slipway (see README.md).

BuildKit pushes its multi-platform base images to a registry; so do these, to the suite's loopback
registry, and FROM pulls them back from it.
"""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


# dockerfile_platform_test.go: testPlatformArgsImplicit
def test_platform_args_implicit(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM scratch AS build-linux\nCOPY foo bar\nFROM build-${TARGETOS}\nCOPY foo2 bar2\n"
    out = sandbox.export(sandbox.context(dockerfile, file("foo", "d0"), file("foo2", "d1")))
    assert (out / "bar").read_text() == "d0"
    assert (out / "bar2").read_text() == "d1"


# dockerfile_platform_test.go: testPlatformArgsExplicit
def test_platform_args_explicit(sandbox: Sandbox) -> None:
    dockerfile = """
FROM --platform=$BUILDPLATFORM busybox AS build
ARG TARGETPLATFORM
ARG TARGETOS
RUN mkdir /out && echo -n $TARGETPLATFORM > /out/platform && echo -n $TARGETOS > /out/os
FROM scratch
COPY --from=build out .
"""
    out = sandbox.export(
        sandbox.context(dockerfile), "--platform", "darwin/ppc64le", "--build-arg", "TARGETOS=freebsd"
    )
    assert (out / "platform").read_text() == "darwin/ppc64le"
    assert (out / "os").read_text() == "freebsd"


WITH_OS_VERSION = """
FROM {target} AS reg

FROM scratch AS base
ARG TARGETOSVERSION
COPY <<EOF /osversion
${{TARGETOSVERSION}}
EOF
ARG TARGETPLATFORM
COPY <<EOF /targetplatform
${{TARGETPLATFORM}}
EOF
"""


# dockerfile_platform_test.go: testPlatformWithOSVersion
def test_platform_with_os_version(sandbox: Sandbox, registry: str) -> None:
    first, second = "windows(1.2.3)/bar", "windows(1.1.0)/bar"
    target = f"{registry}/buildkit/testplatformwithosversion-{sandbox.name}:latest"
    context = sandbox.context(WITH_OS_VERSION.format(target=target))
    out = sandbox.fresh("out")
    sandbox.build_ok(
        context,
        "--platform",
        f"{first},{second}",
        "--target",
        "base",
        "--insecure-registry",
        registry,
        "-t",
        target,
        "--push",
        "--output",
        f"type=local,dest={out}",
    )
    for platform, version in ((first, "1.2.3"), (second, "1.1.0")):
        directory = out / platform.replace("/", "_", 1)
        assert (directory / "osversion").read_text() == version + "\n"
        assert (directory / "targetplatform").read_text() == platform + "\n"
    # Now build the "reg" target, which should pull the base image from the registry
    # This should select the image with the requested os version.
    for platform, version in ((first, "1.2.3"), (second, "1.1.0")):
        out = sandbox.export(
            context,
            "--platform",
            platform,
            "--target",
            "reg",
            "--insecure-registry",
            registry,
            env={"SLIPWAY_PULL_POLICY": "missing"},
        )
        assert (out / "osversion").read_text() == version + "\n"


# dockerfile_platform_test.go: testMaintainBaseOSVersion
def test_maintain_base_os_version(sandbox: Sandbox, registry: str) -> None:
    target = f"{registry}/buildkit/testplatformwithosversion-1-{sandbox.name}:latest"
    dockerfile = "\nFROM scratch\nARG TARGETPLATFORM\nCOPY <<EOF /platform\n${TARGETPLATFORM}\nEOF\n"
    sandbox.build_ok(
        sandbox.context(dockerfile),
        "--platform",
        "windows(10.0.20348.1006)/amd64",
        "--insecure-registry",
        registry,
        "-t",
        target,
        "--push",
    )
    sandbox.store.ok("pull", "--insecure-registry", registry, target)
    assert sandbox.image_config(target)["os.version"] == "10.0.20348.1006"

    target2 = f"{registry}/buildkit/testplatformwithosversion-2-{sandbox.name}:latest"
    sandbox.build_ok(
        sandbox.context(f"\nFROM {target}\nCOPY <<EOF /other\nhello\nEOF\n"),
        "--platform",
        "windows/amd64",
        "--insecure-registry",
        registry,
        "-t",
        target2,
        "--push",
    )
    assert sandbox.image_config(target2)["os.version"] == "10.0.20348.1006"
