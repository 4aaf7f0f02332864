"""BuildKit's frontend/dockerfile/dockerfile_outline_test.go, ported to slipway (see README.md).

testOutlineDescribeDefinition lists the frontend's subrequests through BuildKit's gateway API: see
NOT_PORTED.md.
"""

from __future__ import annotations

import pytest

from buildkit._call import call_json, source_index, sources, start_line
from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root

OUTLINE_ARGS = (
    '\nARG inherited=box\nARG inherited2=box2\nARG unused=abc${inherited2}\n# sfx is a suffix\nARG sfx="usy${inherited}"\n'
    "\nFROM b${sfx} AS first\n# this is not assigned to anything\nARG FOO=123\n# BAR is a number\nARG BAR=456\nRUN true\n"
    "\nFROM alpine${unused} AS second\nARG BAZ\nRUN true\n\nFROM scratch AS third\nARG ABC=a\n# check=skip=all\n"
    "ARG password\n# alternate_password will show up in the outline\n# check=skip=all\nARG alternate_password\n"
    "\n# target defines build target\nFROM third AS target\nCOPY --from=first /etc/passwd /\n\nFROM second\n"
)


# dockerfile_outline_test.go: testOutlineArgs
def test_outline_args(sandbox: Sandbox) -> None:
    context = sandbox.context(OUTLINE_ARGS)
    outline = call_json(sandbox, context, "outline", "--build-arg", "BAR=678", "--target", "target")
    assert outline["name"] == "target"
    assert outline["description"] == "defines build target"
    assert sources(outline) == [OUTLINE_ARGS]
    args = outline["args"]
    assert len(args) == 7
    expected = (
        ("inherited", "box", "", 2),
        ("sfx", "usybox", "is a suffix", 6),
        ("FOO", "123", "", 10),
        ("BAR", "678", "is a number", None),
        ("ABC", "a", None, None),
        ("password", "", "", 22),
        ("alternate_password", "", "will show up in the outline", 25),
    )
    for arg, (name, value, description, line) in zip(args, expected, strict=True):
        assert arg["name"] == name
        assert arg.get("value", "") == value
        if description is not None:
            assert arg.get("description", "") == description
        if line is not None:
            assert source_index(arg) == 0
            assert start_line(arg) == line


OUTLINE_SECRETS = (
    "\nFROM busybox AS first\nRUN --mount=type=secret,target=/etc/passwd,required=true --mount=type=ssh true\n"
    "\nFROM alpine AS second\nRUN --mount=type=secret,id=unused --mount=type=ssh,id=ssh2 true\n"
    "\nFROM scratch AS third\nARG BAR\nRUN --mount=type=secret,id=second${BAR} true\n"
    "\nFROM third AS target\nCOPY --from=first /foo /\nRUN --mount=type=ssh,id=ssh3,required true\n\nFROM second\n"
)


# dockerfile_outline_test.go: testOutlineSecrets
def test_outline_secrets(sandbox: Sandbox) -> None:
    context = sandbox.context(OUTLINE_SECRETS)
    outline = call_json(sandbox, context, "outline", "--build-arg", "BAR=678", "--target", "target")
    assert sources(outline) == [OUTLINE_SECRETS]
    secrets = outline["secrets"]
    assert len(secrets) == 2
    for secret, (name, required, line) in zip(
        secrets, (("passwd", True, 3), ("second678", False, 10)), strict=True
    ):
        assert secret["name"] == name
        assert secret.get("required", False) is required
        assert source_index(secret) == 0
        assert start_line(secret) == line
    ssh = outline["ssh"]
    assert len(ssh) == 2
    for entry, (name, required, line) in zip(ssh, (("default", False, 3), ("ssh3", True, 14)), strict=True):
        assert entry["name"] == name
        assert entry.get("required", False) is required
        assert source_index(entry) == 0
        assert start_line(entry) == line


# dockerfile_outline_test.go: testOutlineRecursiveArgs
def test_outline_recursive_args(sandbox: Sandbox) -> None:
    dockerfile = (
        "\nARG FOO=123\nARG ABC=abc\nARG DEF=def\nARG FOO=${FOO}${ABC}\nARG BAR=${FOO}456\nARG FOO=${FOO}456${BAR}\n"
        "FROM scratch\nARG FOO\nARG INFOO=123\nARG INBAR=${INFOO}456\nARG INFOO=${INFOO}456${INBAR}\n"
    )
    outline = call_json(sandbox, sandbox.context(dockerfile), "outline")
    assert [(arg["name"], arg.get("value", "")) for arg in outline["args"]] == [
        ("ABC", "abc"),
        ("BAR", "123abc456"),
        ("FOO", "123abc456123abc456"),
        ("INBAR", "123456"),
        ("INFOO", "123456123456"),
    ]
