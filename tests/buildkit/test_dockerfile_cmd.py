"""BuildKit's frontend/dockerfile/dockerfile_cmd_test.go, ported to slipway (see README.md).

Where BuildKit reads an image from containerd or a registry it pushed to, the port reads the image that
`slipway build -t` put in the store (its OCI config through `slipway save --format oci`).
"""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root


# dockerfile_cmd_test.go: testCmdShell
def test_cmd_shell(sandbox: Sandbox) -> None:
    target = sandbox.image(sandbox.context('\nFROM scratch\nCMD ["test"]\n'))
    child = sandbox.image(sandbox.context(f'\nFROM {target}\nSHELL ["ls"]\nENTRYPOINT my entrypoint\n'))
    config = sandbox.image_config(child)["config"]
    assert config.get("Cmd") is None
    assert config["Entrypoint"] == ["ls", "my entrypoint"]


# dockerfile_cmd_test.go: testDefaultShellAndPath
def test_default_shell_and_path(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nENTRYPOINT foo bar\nCOPY Dockerfile .\n")
    archive = sandbox.export_oci(context, "--platform", "windows/amd64,linux/amd64")
    index = archive.json(archive.index["manifests"][0]["digest"])
    assert len(index["manifests"]) == 2
    expected = (
        # we don't set PATH on Windows. #5445
        ("windows/amd64", ["cmd", "/S", "/C", "foo bar"], None),
        (
            "linux/amd64",
            ["/bin/sh", "-c", "foo bar"],
            ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        ),
    )
    for descriptor, (platform, entrypoint, env) in zip(index["manifests"], expected, strict=True):
        assert f"{descriptor['platform']['os']}/{descriptor['platform']['architecture']}" == platform
        manifest = archive.json(descriptor["digest"])
        assert len(manifest["layers"]) == 1
        config = archive.json(manifest["config"]["digest"])["config"]
        assert config["Entrypoint"] == entrypoint
        assert config.get("Env") == env


# dockerfile_cmd_test.go: testIgnoreEntrypoint
def test_ignore_entrypoint(sandbox: Sandbox) -> None:
    sandbox.build_ok(sandbox.context('\nFROM busybox\nENTRYPOINT ["/nosuchcmd"]\nRUN ["ls"]\n'))


# dockerfile_cmd_test.go: testInvalidJSONCommands
def test_invalid_json_commands(sandbox: Sandbox) -> None:
    context = sandbox.context('\nFROM alpine\nRUN ["echo", "hello"]this is invalid\n')
    assert "this is invalid" in sandbox.build_fails(context)

    image = sandbox.image(sandbox.context("\nFROM alpine\nENTRYPOINT []random string\n"))
    assert sandbox.image_config(image)["config"]["Entrypoint"] == ["/bin/sh", "-c", "[]random string"]


# dockerfile_cmd_test.go: testDockerfileInvalidCommand
def test_dockerfile_invalid_command(sandbox: Sandbox) -> None:
    output = sandbox.build_fails(sandbox.context("\n\tFROM busybox\n\tRUN invalidcmd\n"))
    assert "/bin/sh -c invalidcmd" in output
    assert "did not complete successfully" in output


# dockerfile_cmd_test.go: testDockerfileInvalidInstruction
def test_dockerfile_invalid_instruction(sandbox: Sandbox) -> None:
    dockerfile = '\nFROM scratch\nFNTRYPOINT ["/bin/sh", "-c", "echo invalidinstruction"]\n'
    output = sandbox.build_fails(sandbox.context(dockerfile))
    assert "unknown instruction: FNTRYPOINT" in output
    assert "did you mean ENTRYPOINT?" in output
