"""BuildKit's frontend/dockerfile/dockerfile_export_test.go, ported to slipway (see README.md).

A tar context BuildKit uploads through its session is a tar archive on slipway's standard input
(`slipway build -`), as docker does it.
"""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox, file, read_tar, regular_member, tar_bytes

pytestmark = pytest.mark.root


# dockerfile_export_test.go: testTarExporterBasic
def test_tar_exporter_basic(sandbox: Sandbox) -> None:
    members = sandbox.export_tar(sandbox.context("\nFROM scratch\nCOPY foo foo\n", file("foo", "data")))
    assert members["foo"][1] == b"data"


# dockerfile_export_test.go: testTarExporterMulti
def test_tar_exporter_multi(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM scratch AS stage-linux\nCOPY foo forlinux\n\nFROM scratch AS stage-darwin\nCOPY bar fordarwin\n\nFROM stage-$TARGETOS\n"
    context = sandbox.context(dockerfile, file("foo", "data"), file("bar", "data2"))
    assert sandbox.export_tar(context)["forlinux"][1] == b"data"
    # repeat multi-platform
    members = sandbox.export_tar(context, "--platform", "linux/amd64,darwin/amd64")
    assert members["linux_amd64/forlinux"][1] == b"data"
    assert members["darwin_amd64/fordarwin"][1] == b"data2"


# dockerfile_export_test.go: testExportMultiPlatform
def test_export_multi_platform(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM scratch\nARG TARGETARCH\nARG TARGETPLATFORM\nLABEL target=$TARGETPLATFORM\nCOPY arch-$TARGETARCH whoami\n"
    context = sandbox.context(
        dockerfile,
        file("arch-arm", "i am arm"),
        file("arch-amd64", "i am amd64"),
        file("arch-s390x", "i am s390x"),
        file("arch-ppc64le", "i am ppc64le"),
    )
    out = sandbox.export(context, "--platform", "windows/amd64,linux/arm,linux/s390x")
    assert (out / "windows_amd64/whoami").read_text() == "i am amd64"
    assert (out / "linux_arm_v7/whoami").read_text() == "i am arm"
    assert (out / "linux_s390x/whoami").read_text() == "i am s390x"

    # repeat with oci exporter
    archive = sandbox.export_oci(context, "--platform", "windows/amd64,linux/arm/v6,linux/ppc64le")
    index = archive.json(archive.index["manifests"][0]["digest"])
    assert len(index["manifests"]) == 3
    expected = (
        ("windows/amd64", "windows", "amd64", "i am amd64"),
        ("linux/arm/v6", "linux", "arm", "i am arm"),
        ("linux/ppc64le", "linux", "ppc64le", "i am ppc64le"),
    )
    for descriptor, (platform, os_name, arch, data) in zip(index["manifests"], expected, strict=True):
        found = descriptor["platform"]
        assert "/".join(filter(None, (found["os"], found["architecture"], found.get("variant")))) == platform
        manifest = archive.json(descriptor["digest"])
        assert len(manifest["layers"]) == 1
        assert read_tar(archive.blob(manifest["layers"][0]["digest"]))["whoami"][1] == data.encode()
        config = archive.json(manifest["config"]["digest"])
        assert (config["os"], config["architecture"]) == (os_name, arch)
        assert config["config"]["Labels"]["target"] == platform


# dockerfile_export_test.go: testTarContext
def test_tar_context(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM scratch\nCOPY foo /"
    archive = tar_bytes(regular_member("Dockerfile", dockerfile), regular_member("foo", "contents"))
    sandbox.build_ok("-", input=archive)


# dockerfile_export_test.go: testTarContextExternalDockerfile. BuildKit also picks a subdirectory of the
# tar (contextsubdir), which the docker CLI has no flag for: the tar here holds that subdirectory.
def test_tar_context_external_dockerfile(sandbox: Sandbox) -> None:
    archive = tar_bytes(regular_member("foo", "contents"))
    dockerfile = sandbox.context("\nFROM scratch\nCOPY foo bar\n") / "Dockerfile"
    out = sandbox.fresh("out")
    sandbox.build_ok("-", "--output", f"type=local,dest={out}", dockerfile=dockerfile, input=archive)
    assert (out / "bar").read_text() == "contents"
