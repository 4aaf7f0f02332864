"""BuildKit's frontend/dockerfile/dockerfile_image_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import json

import pytest

from buildkit._sandbox import Sandbox, file, read_tar

pytestmark = pytest.mark.root


# dockerfile_image_test.go: testPullScratch. Its last step mounts the image in an LLB build through
# BuildKit's client API; here the same mount is a Dockerfile RUN --mount=from=IMAGE.
def test_pull_scratch(sandbox: Sandbox) -> None:
    base = sandbox.image(sandbox.context("\nFROM scratch\nLABEL foo=bar\n"))
    target = sandbox.image(
        sandbox.context(f"\nFROM {base}\nLABEL bar=baz\nCOPY foo .\n", file("foo", "foo-contents"))
    )
    config = sandbox.image_config(target)
    assert config["rootfs"]["type"] == "layers"
    assert len(config["rootfs"]["diff_ids"]) == 1
    assert config["config"]["Labels"]["foo"] == "bar"
    assert config["config"]["Labels"]["bar"] == "baz"

    dockerfile = (
        f'FROM busybox AS run\nRUN --mount=from={base},target=/empty,rw sh -c "echo -n foo0 > /empty/foo" '
        "&& cp /empty/foo /foo\nFROM scratch\nCOPY --from=run /foo /\n"
    )
    assert (sandbox.export(sandbox.context(dockerfile)) / "foo").read_text() == "foo0"


# dockerfile_image_test.go: testDockerfileScratchConfig
def test_dockerfile_scratch_config(sandbox: Sandbox) -> None:
    config = sandbox.image_config(sandbox.image(sandbox.context("\nFROM scratch\nENV foo=bar\n")))
    assert config["os"] != ""
    assert config["architecture"] != ""
    assert config["config"].get("WorkingDir", "") != ""
    assert config["rootfs"]["type"] == "layers"
    assert len(config["rootfs"].get("diff_ids") or []) == 0
    assert len(config["history"]) == 1
    assert "ENV foo=bar" in config["history"][0]["created_by"]
    assert config["history"][0]["empty_layer"] is True
    assert "foo=bar" in config["config"]["Env"]
    assert any(variable.startswith("PATH=") for variable in config["config"]["Env"])


# dockerfile_image_test.go: testOCILayoutMultiname (moby/buildkit#5572)
def test_oci_layout_multiname(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nCOPY <<EOF /foo\nhello\nEOF\n")

    def validate(index: dict[str, object]) -> None:
        manifests = index["manifests"]
        assert isinstance(manifests, list) and len(manifests) == 2
        first, second = manifests
        for key in ("digest", "platform", "mediaType", "size"):
            assert first.get(key) == second.get(key), key
        assert first["annotations"]["io.containerd.image.name"] == "docker.io/org/repo:tag1"
        assert second["annotations"]["io.containerd.image.name"] == "docker.io/org/repo:tag2"
        assert first["annotations"]["org.opencontainers.image.ref.name"] == "tag1"
        assert second["annotations"]["org.opencontainers.image.ref.name"] == "tag2"

    layout = sandbox.fresh("layout")
    sandbox.build_ok(
        context, "--output", f'type=oci,dest={layout},tar=false,"name=org/repo:tag1,org/repo:tag2"'
    )
    validate(json.loads((layout / "index.json").read_text()))
    # test that tar variant matches
    archive = sandbox.fresh("oci") / "out.tar"
    sandbox.build_ok(context, "--output", f'type=oci,dest={archive},"name=org/repo:tag1,org/repo:tag2"')
    validate(json.loads(read_tar(archive.read_bytes())["index.json"][1]))


# dockerfile_image_test.go: testMultiNilRefsOCIExporter
def test_multi_nil_refs_oci_exporter(sandbox: Sandbox) -> None:
    archive = sandbox.export_oci(sandbox.context("FROM scratch"), "--platform", "linux/arm64,linux/amd64")
    assert len(archive.index["manifests"]) == 1
    assert len(archive.json(archive.index["manifests"][0]["digest"])["manifests"]) == 2
