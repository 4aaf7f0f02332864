"""BuildKit's frontend/dockerfile/dockerfile_namedcontext_test.go, ported to slipway (see README.md).

BuildKit's `context:NAME` frontend attributes are `--build-context NAME=...` here, as docker buildx passes
them (`docker-image://REF`, a directory, `oci-layout://DIR@DIGEST`). Images BuildKit pushes to a registry
go to the suite's loopback registry. testNamedInputContext, testNamedMultiplatformInputContext,
testNamedFilteredContext and testSourcePolicyWithNamedContext drive BuildKit's gateway, session transfer
and source-policy APIs: see NOT_PORTED.md.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


def pushed(sandbox: Sandbox, registry: str, name: str) -> str:
    return f"{registry}/buildkit/{name}-{sandbox.name}:latest"


# dockerfile_namedcontext_test.go: testNamedImageContext
def test_named_image_context(sandbox: Sandbox, registry: str) -> None:
    dockerfile = (
        "\nFROM busybox AS base\nRUN cat /etc/alpine-release > /out\nFROM scratch\nCOPY --from=base /out /\n"
    )
    out = sandbox.export(sandbox.context(dockerfile), "--build-context", "busybox=docker-image://alpine")
    assert len((out / "out").read_bytes()) > 0

    target = pushed(sandbox, registry, "testnamedimagecontext")
    flags = ("--insecure-registry", registry)
    sandbox.build_ok(
        sandbox.context("\nFROM alpine:latest\nENV PATH=/foobar:$PATH\nENV FOOBAR=foobar\n"),
        *flags,
        "-t",
        target,
        "--push",
    )
    dockerfile = """
FROM busybox AS base
RUN cat /etc/alpine-release > /out
RUN env | grep PATH > /env_path
RUN env | grep FOOBAR > /env_foobar
FROM scratch
COPY --from=base /out /
COPY --from=base /env_path /
COPY --from=base /env_foobar /
\t"""
    out = sandbox.export(
        sandbox.context(dockerfile), *flags, "--build-context", f"busybox=docker-image://{target}"
    )
    assert len((out / "out").read_bytes()) > 0
    assert (out / "env_foobar").read_text().strip() == "FOOBAR=foobar"
    assert "/foobar:" in (out / "env_path").read_text()

    dockerfile = """
FROM busybox AS parent
FROM parent AS base
RUN echo base > /out
FROM base
RUN [ -f /etc/alpine-release ]
RUN [ ! -f /out ]
"""
    sandbox.build_ok(sandbox.context(dockerfile), *flags, "--build-context", f"base=docker-image://{target}")


# dockerfile_namedcontext_test.go: testNamedImageContextPlatform
def test_named_image_context_platform(sandbox: Sandbox, registry: str) -> None:
    target = pushed(sandbox, registry, "testnamedimagecontextplatform")
    flags = ("--insecure-registry", registry)
    sandbox.build_ok(
        sandbox.context("FROM --platform=$BUILDPLATFORM alpine:latest"),
        *flags,
        "--build-arg",
        "BUILDKIT_MULTI_PLATFORM=true",
        "-t",
        target,
        "--push",
    )
    sandbox.build_ok(
        sandbox.context("\n\t\tFROM --platform=$BUILDPLATFORM alpine AS target\n\t\tRUN echo hello\n\t\t"),
        *flags,
        "--build-context",
        f"busybox=docker-image://{target}",
        "--platform",
        "darwin/ppc64le",
    )


def created_at(config: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(config["created"]).replace("Z", "+00:00"))


# dockerfile_namedcontext_test.go: testNamedImageContextTimestamps
def test_named_image_context_timestamps(sandbox: Sandbox, registry: str) -> None:
    dockerfile = "\nFROM alpine\nRUN echo foo >> /test\n"
    flags = ("--insecure-registry", registry)
    target = pushed(sandbox, registry, "testnamedimagecontexttimestamps")
    sandbox.build_ok(sandbox.context(dockerfile), *flags, "-t", target, "--push")
    derived = pushed(sandbox, registry, "testnamedimagecontexttimestampsderived")
    sandbox.build_ok(
        sandbox.context(dockerfile),
        *flags,
        "--build-context",
        f"alpine=docker-image://{target}",
        "-t",
        derived,
        "--push",
    )
    for reference in (target, derived):
        sandbox.store.ok("pull", "--insecure-registry", registry, reference)
    first, second = created_at(sandbox.image_config(target)), created_at(sandbox.image_config(derived))
    assert first != second
    assert timedelta(0) < second - first < timedelta(minutes=10)


# dockerfile_namedcontext_test.go: testNamedImageContextScratch
def test_named_image_context_scratch(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM busybox AS build\nCOPY <<EOF /out\nhello world!\nEOF\n"
    out = sandbox.export(sandbox.context(dockerfile), "--build-context", "busybox=docker-image://scratch")
    assert [item.name for item in out.iterdir() if item.name == "out"] == ["out"]
    assert (out / "out").read_text() == "hello world!\n"


# dockerfile_namedcontext_test.go: testNamedLocalContext
def test_named_local_context(sandbox: Sandbox) -> None:
    dockerfile = (
        "\nFROM busybox AS base\nRUN cat /etc/alpine-release > /out\nFROM scratch\nCOPY --from=base /o* /\n"
    )
    base = sandbox.context(
        None, file("out", "dummy-result"), file("out2", "dummy-result"), file(".dockerignore", "out2\n")
    )
    out = sandbox.export(sandbox.context(dockerfile), "--build-context", f"base={base}")
    assert len((out / "out").read_bytes()) > 0
    assert not (out / "out2").exists()


def oci_layout(sandbox: Sandbox, dockerfile: str) -> tuple[Path, str]:
    """An OCI layout directory of a build, and its one manifest's digest."""
    layout = sandbox.fresh("layout")
    archive = sandbox.export_oci(sandbox.context(dockerfile))
    for name, data in archive.blobs.items():
        if name.endswith("/"):
            continue
        (layout / name).parent.mkdir(parents=True, exist_ok=True)
        (layout / name).write_bytes(data)
    index = json.loads((layout / "index.json").read_text())
    assert len(index["manifests"]) == 1
    return layout, index["manifests"][0]["digest"]


# dockerfile_namedcontext_test.go: testNamedOCILayoutContext
def test_named_oci_layout_context(sandbox: Sandbox) -> None:
    layout, digest = oci_layout(
        sandbox,
        '\n\tFROM busybox:latest\n\tWORKDIR /test\n\tRUN sh -c "echo -n first > out"\n'
        '\tRUN sh -c "echo -n second > out2"\n\tENV foo=bar\n\t',
    )
    dockerfile = """
FROM busybox AS base
RUN cat /etc/alpine-release > out

FROM foo AS imported
RUN echo -n $foo > outfoo

FROM scratch
COPY --from=base /test/o* /
COPY --from=imported /test/outfoo /
"""
    out = sandbox.export(
        sandbox.context(dockerfile),
        "--build-context",
        f"base=oci-layout://{layout}@{digest}",
        "--build-context",
        f"foo=oci-layout://{layout}@{digest}",
    )
    assert (out / "out").read_bytes() == b"first"
    assert (out / "out2").read_bytes() == b"second"
    assert (out / "outfoo").read_bytes() == b"bar"


# dockerfile_namedcontext_test.go: testNamedOCILayoutContextExport
def test_named_oci_layout_context_export(sandbox: Sandbox) -> None:
    layout, digest = oci_layout(sandbox, "\nFROM scratch\nWORKDIR /test\nENV foo=bar\n\t")
    archive = sandbox.export_oci(
        sandbox.context("\nFROM nonexistent AS base\n"),
        "--build-context",
        f"nonexistent=oci-layout://{layout}@{digest}",
    )
    assert len(archive.index["manifests"]) == 1
    config = archive.config()["config"]
    assert config["WorkingDir"] == "/test"
    assert "foo=bar" in config["Env"]


# dockerfile_namedcontext_test.go: testEagerNamedContextLookup
def test_eager_named_context_lookup(sandbox: Sandbox) -> None:
    dockerfile = """
FROM broken AS notused

FROM alpine AS base
RUN echo "base" > /foo

FROM busybox AS otherstage

FROM scratch
COPY --from=base /foo /foo
\t"""
    out = sandbox.export(
        sandbox.context(dockerfile),
        "--build-context",
        "notused=docker-image://docker.io/library/nosuchimage:latest",
        "--build-context",
        "busybox=docker-image://docker.io/library/dontexist:latest",
    )
    assert (out / "foo").read_text() == "base\n"
