"""BuildKit's frontend/dockerfile/dockerfile_secrets_test.go, ported to slipway (see README.md).

BuildKit's session secrets provider is `--secret id=ID,src=FILE` here, as docker buildx passes them.
"""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


def secret_flag(sandbox: Sandbox, name: str, value: str) -> tuple[str, str]:
    source = sandbox.context(None, file(name, value)) / name
    return ("--secret", f"id={name},src={source}")


# dockerfile_secrets_test.go: testSecretFileParams
def test_secret_file_params(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
RUN --mount=type=secret,required=false,mode=741,uid=100,gid=102,target=/mysecret [ "$(stat -c "%u %g %f" /mysecret)" = "100 102 81e1" ]
RUN [ ! -f /mysecret ] # check no stub left behind
"""
    sandbox.build_ok(sandbox.context(dockerfile), *secret_flag(sandbox, "mysecret", "pw"))


# dockerfile_secrets_test.go: testSecretRequiredWithoutValue
def test_secret_required_without_value(sandbox: Sandbox) -> None:
    dockerfile = "FROM busybox \n\t\tRUN --mount=type=secret,required,id=mysecret foo"
    assert "secret mysecret: not found" in sandbox.build_fails(sandbox.context(dockerfile))


# dockerfile_secrets_test.go: testSecretAsEnviron: the secret is in the environment, not a file, and the
# step's name shows it masked
def test_secret_as_environ(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
ENV SECRET_ENV=foo
RUN --mount=type=secret,id=mysecret,env=SECRET_ENV [ "$SECRET_ENV" == "pw" ] && [ ! -f /run/secrets/mysecret ] || false
"""
    output = sandbox.build_ok(sandbox.context(dockerfile), *secret_flag(sandbox, "mysecret", "pw")).stderr
    # BuildKit's vertex names: the progress lines ("#2 [2/2] RUN ..."), not the excerpts of build warnings.
    steps = [line for line in output.splitlines() if line.startswith("#") and "/run/secrets/mysecret" in line]
    assert steps
    assert all('[ "****" == "pw" ] && ' in line for line in steps), steps


# dockerfile_secrets_test.go: testSecretAsEnvironWithFileMount
def test_secret_as_environ_with_file_mount(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
RUN --mount=type=secret,id=mysecret,target=/run/secrets/secret,env=SECRET_ENV [ "$SECRET_ENV" == "pw" ] && [ -f /run/secrets/secret ] || false
"""
    sandbox.build_ok(sandbox.context(dockerfile), *secret_flag(sandbox, "mysecret", "pw"))
