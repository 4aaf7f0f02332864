"""BuildKit's frontend/dockerfile/dockerfile_ssh_test.go, ported to slipway (see README.md).

BuildKit's session SSH agent provider is `--ssh default=KEYFILE` here, as docker buildx passes it.
testSSHFileDescriptorsClosed installs packages with apk and connects to github.com: see NOT_PORTED.md.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


# dockerfile_ssh_test.go: testSSHSocketParams
@pytest.mark.xfail(reason="issue 15: ssh (--ssh default=KEYFILE, RUN --mount=type=ssh)", strict=True)
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
