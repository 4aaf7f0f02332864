"""BuildKit's frontend/dockerfile/dockerfile_core_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import shutil
import tarfile

import pytest

from buildkit._sandbox import Sandbox, directory, file, symlink, tar_bytes

pytestmark = pytest.mark.root


# dockerfile_core_test.go: testDockerfileDirs
def test_dockerfile_dirs(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
COPY foo /foo2
COPY foo /
RUN echo -n bar > foo3
RUN test -f foo
RUN cmp -s foo foo2
RUN cmp -s foo foo3
"""
    context = sandbox.context(dockerfile, file("foo", "bar"))
    sandbox.build_ok(context)
    # relative urls
    sandbox.build_ok(".", cwd=context)
    # different context and dockerfile directories
    dockerfile_dir = sandbox.context(dockerfile)
    context_dir = sandbox.context(None, file("foo", "bar"))
    sandbox.build_ok(context_dir, dockerfile=dockerfile_dir / "Dockerfile", cwd=context)


# dockerfile_core_test.go: testSymlinkedDockerfile
def test_symlinked_dockerfile(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch\nENV foo bar\n", symlink("Dockerfile.web", "Dockerfile"), filename="Dockerfile.web"
    )
    sandbox.build_ok(context)


# dockerfile_core_test.go: testSymlinkDestination
def test_symlink_destination(sandbox: Sandbox) -> None:
    archive = tar_bytes(
        ("symlink", None, {"type": tarfile.SYMTYPE, "linkname": "../tmp/symlink-target", "mode": 0o755})
    )
    context = sandbox.context(
        "\nFROM scratch\nADD t.tar /\nCOPY foo /symlink/\n", file("foo", "content0"), file("t.tar", archive)
    )
    assert (sandbox.export(context) / "tmp/symlink-target/foo").read_bytes() == b"content0"


# dockerfile_core_test.go: testContextChangeDirToFile (tonistiigi/fsutil#46)
def test_context_change_dir_to_file(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch\nCOPY foo /\n", directory("foo", 0o700), file("foo/bar", "contents")
    )
    sandbox.build_ok(context)
    shutil.rmtree(context / "foo")
    file("foo", "contents2")(context)
    assert (sandbox.export(context) / "foo").read_text() == "contents2"


# dockerfile_core_test.go: testNoSnapshotLeak (BuildKit counts DiskUsage records; slipway shows `system df`)
def test_no_snapshot_leak(own_sandbox: Sandbox) -> None:
    context = own_sandbox.context("\nFROM scratch\nCOPY foo /\n", file("foo", "contents"))
    own_sandbox.build_ok(context)
    usage = own_sandbox.store.ok("system", "df").stdout
    own_sandbox.build_ok(context)
    assert own_sandbox.store.ok("system", "df").stdout == usage


# dockerfile_core_test.go: testExposeExpansion
def test_expose_expansion(sandbox: Sandbox) -> None:
    dockerfile = '\nFROM scratch\nARG PORTS="3000 4000/udp"\nEXPOSE $PORTS\nEXPOSE 5000\n'
    image = sandbox.image(sandbox.context(dockerfile))
    ports = sorted(sandbox.image_config(image)["config"]["ExposedPorts"])
    assert ports == ["3000/tcp", "4000/udp", "5000/tcp"]


# dockerfile_core_test.go: testDockerfileLowercase (moby/moby#10858)
def test_dockerfile_lowercase(sandbox: Sandbox) -> None:
    sandbox.build_ok(sandbox.context("\nFROM scratch\n", filename="dockerfile"))


# dockerfile_core_test.go: testLabels
def test_labels(sandbox: Sandbox) -> None:
    image = sandbox.image(sandbox.context("\nFROM scratch\nLABEL foo=bar\n"), "--label", "bar=baz")
    labels = sandbox.image_config(image)["config"]["Labels"]
    assert labels["foo"] == "bar"
    assert labels["bar"] == "baz"


def id_check(expected: str) -> str:
    return f"RUN [ \"$(id -u):$(id -g)/$(id -un):$(id -gn)/$(id -G):$(id -Gn)\" = '{expected}' ]"


USER_DOCKERFILE = f"""
FROM busybox AS base
RUN mkdir -m 0777 /out
RUN id -un > /out/rootuser
# Make sure our defaults work
RUN [ "$(id -u):$(id -g)/$(id -un):$(id -gn)" = '0:0/root:root' ]
USER root
RUN [ "$(id -G):$(id -Gn)" = '0 10:root wheel' ]
# Setup dockerio user and group
RUN echo 'dockerio:x:1001:1001::/bin:/bin/false' >> /etc/passwd && \\
\techo 'dockerio:x:1001:' >> /etc/group
# Make sure we can switch to our user and all the information is exactly as we expect it to be
USER dockerio
{id_check("1001:1001/dockerio:dockerio/1001:dockerio")}
# Switch back to root and double check that worked exactly as we might expect it to
USER root
RUN [ "$(id -u):$(id -g)/$(id -un):$(id -gn)/$(id -G):$(id -Gn)" = '0:0/root:root/0 10:root wheel' ] && \\
        # Add a "supplementary" group for our dockerio user
\techo 'supplementary:x:1002:dockerio' >> /etc/group
# ... and then go verify that we get it like we expect
USER dockerio
{id_check("1001:1001/dockerio:dockerio/1001 1002:dockerio supplementary")}
USER 1001
{id_check("1001:1001/dockerio:dockerio/1001 1002:dockerio supplementary")}
# super test the new "user:group" syntax
USER dockerio:dockerio
{id_check("1001:1001/dockerio:dockerio/1001:dockerio")}
USER 1001:dockerio
{id_check("1001:1001/dockerio:dockerio/1001:dockerio")}
USER dockerio:1001
{id_check("1001:1001/dockerio:dockerio/1001:dockerio")}
USER 1001:1001
{id_check("1001:1001/dockerio:dockerio/1001:dockerio")}
USER dockerio:supplementary
{id_check("1001:1002/dockerio:supplementary/1002:supplementary")}
USER dockerio:1002
{id_check("1001:1002/dockerio:supplementary/1002:supplementary")}
USER 1001:supplementary
{id_check("1001:1002/dockerio:supplementary/1002:supplementary")}
USER 1001:1002
{id_check("1001:1002/dockerio:supplementary/1002:supplementary")}
# make sure unknown uid/gid still works properly
USER 1042:1043
{id_check("1042:1043/1042:1043/1043:1043")}
USER daemon
RUN id -un > /out/daemonuser
FROM scratch
COPY --from=base /out /
USER nobody
"""


# dockerfile_core_test.go: testUser
def test_user(sandbox: Sandbox) -> None:
    context = sandbox.context(USER_DOCKERFILE)
    out = sandbox.export(context)
    assert (out / "rootuser").read_text() == "root\n"
    assert (out / "daemonuser").read_text() == "daemon\n"
    # test user in exported
    image = sandbox.image(context)
    assert sandbox.image_config(image)["config"]["User"] == "nobody"


# dockerfile_core_test.go: testUserAdditionalGids (CVE-2023-25173)
def test_user_additional_gids(sandbox: Sandbox) -> None:
    dockerfile = """
# Mimics the tests in https://github.com/containerd/containerd/commit/3eda46af12b1deedab3d0802adb2e81cb3521950
FROM busybox
SHELL ["/bin/sh", "-euxc"]
RUN [ "$(id)" = "uid=0(root) gid=0(root) groups=0(root),10(wheel)" ]
USER 1234
RUN [ "$(id)" = "uid=1234 gid=0(root) groups=0(root)" ]
USER 1234:1234
RUN [ "$(id)" = "uid=1234 gid=1234 groups=1234" ]
USER daemon
RUN [ "$(id)" = "uid=1(daemon) gid=1(daemon) groups=1(daemon)" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile))


# dockerfile_core_test.go: testDockerfileCheckHostname (moby/buildkit#1301). Its "hostname" frontend
# attribute has no docker CLI flag; the build-arg cases are the ones a user can ask for.
def test_dockerfile_check_hostname(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
RUN cat /etc/hosts | grep foo
RUN echo $HOSTNAME | grep foo
\tRUN echo $(hostname) | grep foo
\t"""
    sandbox.build_ok(sandbox.context(dockerfile), "--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=foo")


# dockerfile_core_test.go: testStepNames
def test_step_names(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS base
WORKDIR /out
RUN echo "base" > base
FROM scratch
COPY --from=base --chmod=0644 /out /out
"""
    output = sandbox.build_ok(sandbox.context(dockerfile)).stderr
    assert '[base 3/3] RUN echo "base" > base' in output
    assert "[stage-1 1/1] COPY --from=base --chmod=0644 /out /out" in output


# dockerfile_core_test.go: testTargetMistype
def test_target_mistype(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM scratch AS build\nCOPY Dockerfile /out\nFROM scratch\nCOPY --from=build /out /\n"
    output = sandbox.build_fails(sandbox.context(dockerfile), "--target", "bulid")
    assert 'target stage "bulid" could not be found (did you mean build?)' in output
