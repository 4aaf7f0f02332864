"""BuildKit's frontend/dockerfile/dockerfile_ssh_test.go, ported to slipway (see README.md).

BuildKit's session SSH agent provider is `--ssh default=KEYFILE` (or `default=SOCKET`) here, as docker buildx
passes it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from buildkit._sandbox import Sandbox, file, helpers

pytestmark = pytest.mark.root


# dockerfile_ssh_test.go: testSSHSocketParams
def test_ssh_socket_params(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
RUN --mount=type=ssh,mode=741,uid=100,gid=102 [ "$(stat -c "%u %g %f" $SSH_AUTH_SOCK)" = "100 102 c1e1" ]
"""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    key_file = sandbox.context(None, file("key", pem)) / "key"
    sandbox.build_ok(sandbox.context(dockerfile), "--ssh", f"default={key_file}")


# dockerfile_ssh_test.go: testSSHFileDescriptorsClosed. BuildKit installs openssh-client with apk and runs
# `ssh -T git@github.com` three times; without the internet the port copies the host's ssh-add (with its
# libraries) into the image and runs `ssh-add -l` three times. The assertion is BuildKit's: each use of the
# agent is one connection, closed after it, so the agent only ever serves its first client slot.
def test_ssh_file_descriptors_closed(sandbox: Sandbox) -> None:
    dockerfile = """
FROM alpine
COPY client/ /
RUN --mount=type=ssh for i in $(seq 1 3); do \\
        ssh-add -l; \\
    done; \\
    exit 0;
"""
    context = sandbox.context(dockerfile)
    ssh_add = Path(shutil.which("ssh-add") or "/usr/bin/ssh-add")
    (context / "client" / "usr" / "bin").mkdir(parents=True)
    shutil.copy2(ssh_add, context / "client" / "usr" / "bin" / "ssh-add")
    helpers.copy_shared_libraries(ssh_add, context / "client")
    # Not under the test's tmp dir: that path may be longer than a unix socket's name can be (as BuildKit's).
    directory = Path(tempfile.mkdtemp(prefix="buildkit-ssh-test-"))
    socket_path = directory / "ssh-agent.sock"
    log = directory / "ssh-agent.log"
    with log.open("wb") as output:
        agent = subprocess.Popen(
            ["ssh-agent", "-s", "-d", "-a", str(socket_path)], stdout=output, stderr=output
        )
    try:
        for _ in range(100):
            if socket_path.exists() or agent.poll() is not None:
                break
            time.sleep(0.1)
        assert socket_path.exists(), f"ssh-agent failed to start: {log.read_text()}"
        sandbox.build_ok(context, "--ssh", f"default={socket_path}")
    finally:
        agent.terminate()
        agent.wait()
        said = log.read_text()
        shutil.rmtree(directory)
    assert "process_message: socket 1" in said
    assert "process_message: socket 2" not in said
    assert "process_message: socket 3" not in said
