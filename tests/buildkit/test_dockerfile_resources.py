"""BuildKit's frontend/dockerfile/dockerfile_resources_test.go, ported to slipway (see README.md).

testCgroupParent and testLinuxResources need cgroup v2 (BuildKit skips them without it; this machine runs
cgroups in hybrid mode): see NOT_PORTED.md.
"""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root


# dockerfile_resources_test.go: testShmSize
def test_shm_size(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM busybox AS base\nRUN mount | grep /dev/shm > /shmsize\nFROM scratch\nCOPY --from=base /shmsize /\n"
    out = sandbox.export(sandbox.context(dockerfile), "--shm-size", "134217728")
    assert "size=131072k" in (out / "shmsize").read_text()


# dockerfile_resources_test.go: testUlimit
def test_ulimit(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM busybox AS base\nRUN ulimit -n > /ulimit\nFROM scratch\nCOPY --from=base /ulimit /\n"
    out = sandbox.export(sandbox.context(dockerfile), "--ulimit", "nofile=1062:1062")
    assert (out / "ulimit").read_text().strip() == "1062"
