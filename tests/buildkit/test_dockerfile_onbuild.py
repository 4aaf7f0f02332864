"""BuildKit's frontend/dockerfile/dockerfile_onbuild_test.go, ported to slipway (see README.md).

BuildKit pushes its base images to a registry and builds FROM them; here they go to the store with
`slipway build -t` and FROM finds them there. An OCI layout BuildKit hands to the build is a directory
from `-o type=oci,tar=false`.
"""

from __future__ import annotations

import json

import pytest

from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root


# dockerfile_onbuild_test.go: testOnBuildCleared
def test_on_build_cleared(sandbox: Sandbox) -> None:
    base = sandbox.image(
        sandbox.context("\nFROM busybox\nONBUILD RUN mkdir -p /out && echo -n 11 >> /out/foo\n")
    )
    child = sandbox.image(sandbox.context(f"\n\tFROM {base}\n\t"))
    dockerfile = f"\n\tFROM {child} AS base\n\tFROM scratch\n\tCOPY --from=base /out /\n\t"
    assert (sandbox.export(sandbox.context(dockerfile)) / "foo").read_text() == "11"


# dockerfile_onbuild_test.go: testOnBuildWithChildStage (moby/buildkit#5578)
def test_on_build_with_child_stage(sandbox: Sandbox) -> None:
    base = sandbox.image(
        sandbox.context("\nFROM busybox\nONBUILD RUN mkdir -p /out && echo -n yes >> /out/didrun\n")
    )
    dockerfile = f"""
FROM {base} AS base
RUN [ -f /out/didrun ] && touch /step1
RUN rm /out/didrun
RUN [ ! -f /out/didrun ] && touch /step2
FROM base AS child
RUN [ ! -f /out/didrun ] && touch /step3
FROM scratch
COPY --from=child /step* /
"""
    out = sandbox.export(sandbox.context(dockerfile))
    for step in ("step1", "step2", "step3"):
        assert (out / step).is_file(), step


# dockerfile_onbuild_test.go: testOnBuildNamedContext
def test_on_build_named_context(sandbox: Sandbox) -> None:
    # create an image with onbuild that relies on "otherstage" when imported
    layout = sandbox.fresh("oci-layout")
    sandbox.build_ok(
        sandbox.context("\n\tFROM busybox:latest\n\tONBUILD COPY --from=otherstage /testfile /out/foo\n\t"),
        "--output",
        f"type=oci,dest={layout},tar=false",
    )
    digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    dockerfile = """
\t\tFROM alpine AS otherstage
\t\tRUN echo -n "hello" > /testfile
\t\tFROM base AS inputstage
\t\tFROM scratch
\t\tCOPY --from=inputstage /out/foo /bar
\t"""
    out = sandbox.export(
        sandbox.context(dockerfile), "--build-context", f"base=oci-layout://{layout}@{digest}"
    )
    assert (out / "bar").read_bytes() == b"hello"


# dockerfile_onbuild_test.go: testOnBuildInheritedStageRun
def test_on_build_inherited_stage_run(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS base
ONBUILD RUN mkdir -p /out && echo -n 11 >> /out/foo
FROM base AS mid
RUN cp /out/foo /out/bar
FROM scratch
COPY --from=mid /out/bar /
"""
    assert (sandbox.export(sandbox.context(dockerfile)) / "bar").read_text() == "11"


# dockerfile_onbuild_test.go: testOnBuildInheritedStageWithFrom
def test_on_build_inherited_stage_with_from(sandbox: Sandbox) -> None:
    dockerfile = """
FROM alpine AS src
RUN mkdir -p /in && echo -n 12 > /in/file
FROM busybox AS base
ONBUILD COPY --from=src /in/file /out/foo
FROM base AS mid
RUN cp /out/foo /out/bar
FROM scratch
COPY --from=mid /out/bar /
"""
    assert (sandbox.export(sandbox.context(dockerfile)) / "bar").read_text() == "12"


# dockerfile_onbuild_test.go: testOnBuildNewDeps
def test_on_build_new_deps(sandbox: Sandbox) -> None:
    base = sandbox.image(
        sandbox.context(
            "\nFROM busybox\nONBUILD COPY --from=alpine /etc/alpine-release /out/alpine-release2\n"
        )
    )
    dockerfile = f"""
\tFROM {base} AS base
\tRUN cat /out/alpine-release2 > /out/alpine-release3
\tFROM scratch
\tCOPY --from=base /out /
\t"""
    assert len((sandbox.export(sandbox.context(dockerfile)) / "alpine-release3").read_bytes()) > 5

    # build another onbuild image to test nested case
    base2 = sandbox.image(
        sandbox.context(
            "\nFROM alpine\nONBUILD RUN --mount=type=bind,target=/in,from=inputstage mkdir /out && "
            "cat /in/foo > /out/bar && cat /in/out/alpine-release2 > /out/bar2\n"
        )
    )
    dockerfile = f"""
\tFROM {base} AS inputstage
\tRUN cat /out/alpine-release2 > /out/alpine-release4
\tRUN echo -n foo > /foo
\tFROM {base2} AS base
\tRUN echo -n bar3 > /out/bar3
\tFROM scratch
\tCOPY --from=base /out /
\t"""
    out = sandbox.export(sandbox.context(dockerfile))
    assert (out / "bar").read_text() == "foo"
    assert len((out / "bar2").read_bytes()) > 5
    assert (out / "bar3").read_text() == "bar3"


# dockerfile_onbuild_test.go: testOnBuildWithCacheMount
def test_on_build_with_cache_mount(own_sandbox: Sandbox) -> None:
    sandbox = own_sandbox  # a cache mount of its own
    base = sandbox.image(
        sandbox.context(
            "\nFROM busybox\nONBUILD RUN --mount=type=cache,target=/cache echo -n 42 >> /cache/foo && echo -n 11 >> /bar\n"
        )
    )
    dockerfile = (
        f"FROM {base}\n"
        'RUN --mount=type=cache,target=/cache [ "$(cat /cache/foo)" = "42" ] && [ "$(cat /bar)" = "11" ]\n'
    )
    sandbox.build_ok(sandbox.context(dockerfile))
