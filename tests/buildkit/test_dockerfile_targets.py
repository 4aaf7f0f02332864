"""BuildKit's frontend/dockerfile/dockerfile_targets_test.go, ported to slipway (see README.md).

testTargetsDescribeDefinition lists the frontend's subrequests through BuildKit's gateway API: see
NOT_PORTED.md.
"""

from __future__ import annotations

import pytest

from buildkit._call import call_json, source_index, sources, start_line
from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root

TARGETS = (
    "\n# build defines stage for compiling the binary\nFROM alpine AS build\nRUN true\n"
    "\nFROM busybox as second\nRUN false\n\nFROM alpine\nRUN false\n"
    "\n# binary returns the compiled binary\nFROM second AS binary\n"
)


# dockerfile_targets_test.go: testTargetsList
def test_targets_list(sandbox: Sandbox) -> None:
    listed = call_json(sandbox, sandbox.context(TARGETS), "targets")
    assert sources(listed) == [TARGETS]
    targets = listed["targets"]
    assert len(targets) == 4
    expected = (
        ("build", "alpine", "defines stage for compiling the binary", False, 3),
        ("second", "busybox", "", False, 6),
        ("", "alpine", "", False, 9),
        ("binary", None, "returns the compiled binary", True, 13),
    )
    for target, (name, base, description, default, line) in zip(targets, expected, strict=True):
        assert target.get("name", "") == name
        if base is not None:
            assert target.get("base", "") == base
        assert target.get("description", "") == description
        assert target.get("default", False) is default
        assert source_index(target) == 0
        assert start_line(target) == line
