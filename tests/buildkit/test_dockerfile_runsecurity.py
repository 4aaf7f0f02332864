"""BuildKit's frontend/dockerfile/dockerfile_runsecurity_test.go, ported to slipway (see README.md).

BuildKit runs these under a matrix: the daemon grants the `security.insecure` entitlement or not. Here the
build grants it with `--allow security.insecure` or not; each test runs both cases in turn.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root

# The 38 capabilities BuildKit's test expects: a RUN gets only what slipway itself may hand on.
_HOST_HAS_EVERY_CAPABILITY = (
    int(Path("/proc/self/status").read_text().split("CapBnd:")[1].split()[0], 16) & 0x3FFFFFFFFF
    == 0x3FFFFFFFFF
)
DEFAULT_CAPABILITIES = 'RUN [ "$(cat /proc/self/status | grep CapBnd)" == "CapBnd:\t00000000a80425fb" ]'


# dockerfile_runsecurity_test.go: testRunSecurityInsecure
@pytest.mark.xfail(
    not _HOST_HAS_EVERY_CAPABILITY,
    reason="this machine's bounding set lacks a capability (CapBnd), which insecure cannot grant then",
    strict=True,
)
def test_run_security_insecure(sandbox: Sandbox) -> None:
    dockerfile = f"""
FROM busybox
RUN --security=insecure [ "$(printf '%x' $(( $(cat /proc/self/status | grep CapBnd | cut -f 2 | sed s#^#0x#) & 0x3fffffffff)))" == "3fffffffff" ]
{DEFAULT_CAPABILITIES}
"""
    context = sandbox.context(dockerfile)
    # granted
    sandbox.build_ok(context, "--allow", "security.insecure")
    # denied
    assert "entitlement security.insecure is not allowed" in sandbox.build_fails(context)


# dockerfile_runsecurity_test.go: testRunSecuritySandbox
def test_run_security_sandbox(sandbox: Sandbox) -> None:
    dockerfile = '\nFROM busybox\nRUN --security=sandbox [ "$(cat /proc/self/status | grep CapBnd)" == "CapBnd:\t00000000a80425fb" ]\n'
    sandbox.build_ok(sandbox.context(dockerfile))


# dockerfile_runsecurity_test.go: testRunSecurityDefault
def test_run_security_default(sandbox: Sandbox) -> None:
    context = sandbox.context(f"\nFROM busybox\n{DEFAULT_CAPABILITIES}\n")
    # granted
    sandbox.build_ok(context, "--allow", "security.insecure")
    # denied: the Dockerfile asks for nothing insecure, so it builds
    sandbox.build_ok(context)
