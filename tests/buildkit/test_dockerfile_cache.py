"""BuildKit's frontend/dockerfile/dockerfile_cache_test.go, ported to slipway (see README.md).

BuildKit's `c.Prune(... PruneAll)` is `slipway builder prune -a -f`; its registry (sb.NewRegistry) is the
suite's loopback Distribution registry; an image it reads from containerd is read from the store.
"""

from __future__ import annotations

import json

import httpx
import pytest

from buildkit._sandbox import Sandbox, file, read_tar

pytestmark = pytest.mark.root

UNIQUE_DOCKERFILE = """
FROM busybox AS base
COPY foo const
#RUN echo -n foobar > const
RUN cat /dev/urandom | head -c 100 | sha256sum > unique
FROM scratch
COPY --from=base const /
COPY --from=base unique /
"""


def prune_all(sandbox: Sandbox) -> None:
    sandbox.store.ok("builder", "prune", "-a", "-f")


def build_cache_total(sandbox: Sandbox) -> int:
    """The TOTAL column of `slipway system df`'s Build Cache row."""
    for line in sandbox.store.ok("system", "df").stdout.splitlines():
        if line.startswith("Build Cache"):
            return int(line.split()[2])
    raise AssertionError("no Build Cache row in `slipway system df`")


# dockerfile_cache_test.go: testCacheReleased (BuildKit checks that no record is in use and that a prune of
# everything leaves none; slipway shows its build cache in `system df`)
def test_cache_released(own_sandbox: Sandbox) -> None:
    context = own_sandbox.context("\nFROM busybox\n")
    own_sandbox.build_ok(context)
    own_sandbox.build_ok(context)
    prune_all(own_sandbox)
    assert build_cache_total(own_sandbox) == 0


# dockerfile_cache_test.go: testExportCacheLoop
def test_export_cache_loop(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM alpine as base
RUN echo aa > /foo
WORKDIR /bar
FROM base as base1
COPY hello.txt .
FROM base as base2
COPY --from=base1 /bar/hello.txt .
RUN true
FROM scratch
COPY --from=base2 /foo /f
"""
    context = own_sandbox.context(dockerfile, file("hello.txt", "hello"))
    cache = own_sandbox.fresh("cache") / "cache"
    own_sandbox.build_ok(context, "--cache-to", f"type=local,dest={cache}")
    prune_all(own_sandbox)
    own_sandbox.build_ok(
        context, "--cache-to", f"type=local,dest={cache}", "--cache-from", f"type=local,src={cache}"
    )


def registry_get(registry: str, repository: str, reference: str, accept: str) -> httpx.Response:
    response = httpx.get(f"http://{registry}/v2/{repository}/{reference}", headers={"Accept": accept})
    response.raise_for_status()
    return response


def pushed_platform_files(
    registry: str, repository: str, tag: str
) -> tuple[str, dict[str, dict[str, bytes]]]:
    """The digest of a pushed image index, and for each platform the files of each of its layers."""
    index_type = (
        "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
    )
    response = registry_get(registry, repository, f"manifests/{tag}", index_type)
    files: dict[str, dict[str, bytes]] = {}
    for descriptor in response.json()["manifests"]:
        platform = "/".join(
            part
            for part in (
                descriptor["platform"]["os"],
                descriptor["platform"]["architecture"],
                descriptor["platform"].get("variant"),
            )
            if part
        )
        manifest = registry_get(
            registry, repository, f"manifests/{descriptor['digest']}", descriptor["mediaType"]
        ).json()
        found: dict[str, bytes] = {}
        for layer in manifest["layers"]:
            blob = registry_get(registry, repository, f"blobs/{layer['digest']}", "*/*").content
            found.update({name: data for name, (_info, data) in read_tar(blob).items()})
        files[platform] = found
    return response.headers["Docker-Content-Digest"], files


# dockerfile_cache_test.go: testCacheMultiPlatformImportExport
def test_cache_multi_platform_import_export(own_sandbox: Sandbox, registry: str) -> None:
    dockerfile = """
FROM --platform=$BUILDPLATFORM busybox AS base
ARG TARGETARCH
RUN echo -n $TARGETARCH> arch && cat /dev/urandom | head -c 100 | sha256sum > unique
FROM scratch
COPY --from=base unique /
COPY --from=base arch /
"""
    context = own_sandbox.context(dockerfile)
    repository = f"buildkit/testexportdf-{own_sandbox.name}"
    target = f"{registry}/{repository}:multi-img"
    flags = (
        "--platform",
        "linux/amd64,linux/arm/v7",
        "--insecure-registry",
        registry,
        "--cache-to",
        "type=inline",
    )
    own_sandbox.build_ok(context, *flags, "-t", target, "--push")
    digest, files = pushed_platform_files(registry, repository, "multi-img")
    assert len(files) == 2
    assert files["linux/amd64"]["arch"].strip() == b"amd64"
    assert files["linux/amd64"]["unique"] != files["linux/arm/v7"]["unique"]
    for _ in range(2):
        prune_all(own_sandbox)
        own_sandbox.build_ok(context, *flags, "--cache-from", target, "-t", target, "--push")
        digest2, files2 = pushed_platform_files(registry, repository, "multi-img")
        assert digest2 == digest
        assert files2["linux/arm/v7"]["arch"].strip() == b"arm"
        assert files2["linux/amd64"]["unique"] == files["linux/amd64"]["unique"]
        assert files2["linux/arm/v7"]["unique"] == files["linux/arm/v7"]["unique"]


def registry_manifest(registry: str, repository: str, tag: str) -> dict[str, object]:
    accept = (
        "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    )
    document: dict[str, object] = json.loads(
        registry_get(registry, repository, f"manifests/{tag}", accept).content
    )
    return document


# dockerfile_cache_test.go: testImageManifestCacheImportExport
def test_image_manifest_cache_import_export(own_sandbox: Sandbox, registry: str) -> None:
    context = own_sandbox.context(UNIQUE_DOCKERFILE, file("foo", "foobar"))
    target = f"{registry}/buildkit/testexportdf-{own_sandbox.name}:latest"
    out = own_sandbox.export(
        context,
        "--insecure-registry",
        registry,
        "--cache-to",
        f"type=registry,ref={target},oci-mediatypes=true",
    )
    manifest = registry_manifest(registry, target.split("/", 1)[1].split(":")[0], "latest")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.buildkit.cacheconfig.v0"  # type: ignore[index]
    assert (out / "const").read_text() == "foobar"
    unique = (out / "unique").read_text()

    prune_all(own_sandbox)
    out = own_sandbox.export(context, "--insecure-registry", registry, "--cache-from", target)
    assert (out / "const").read_text() == "foobar"
    assert (out / "unique").read_text() == unique


# dockerfile_cache_test.go: testCacheImportExport
def test_cache_import_export(own_sandbox: Sandbox, registry: str) -> None:
    context = own_sandbox.context(UNIQUE_DOCKERFILE, file("foo", "foobar"))
    target = f"{registry}/buildkit/testexportdf-{own_sandbox.name}:latest"
    out = own_sandbox.export(
        context, "--insecure-registry", registry, "--cache-to", f"type=registry,ref={target}"
    )
    assert (out / "const").read_text() == "foobar"
    unique = (out / "unique").read_text()

    prune_all(own_sandbox)
    out = own_sandbox.export(context, "--insecure-registry", registry, "--cache-from", target)
    assert (out / "const").read_text() == "foobar"
    assert (out / "unique").read_text() == unique


REPRODUCIBLE_DOCKERFILE = "\nFROM busybox\nENV foo=bar\nCOPY foo /\nRUN echo bar > bar\n"


# dockerfile_cache_test.go: testReproducibleIDs
def test_reproducible_ids(sandbox: Sandbox) -> None:
    context = sandbox.context(REPRODUCIBLE_DOCKERFILE, file("foo", "foo-contents"))
    first = sandbox.image(context)
    second = sandbox.image(context)
    assert sandbox.store.image_id(first) == sandbox.store.image_id(second)


# dockerfile_cache_test.go: testImportExportReproducibleIDs
def test_import_export_reproducible_ids(own_sandbox: Sandbox, registry: str) -> None:
    context = own_sandbox.context(REPRODUCIBLE_DOCKERFILE, file("foo", "foobar"))
    cache = f"{registry}/test/dockerfileexpids-{own_sandbox.name}:cache"
    flags = ("--insecure-registry", registry, "--cache-to", f"type=registry,ref={cache}")
    target = own_sandbox.image(context, *flags)
    image_id = own_sandbox.store.image_id(target)
    own_sandbox.store.ok("rmi", target)
    prune_all(own_sandbox)
    target2 = own_sandbox.image(context, *flags, "--cache-from", cache)
    assert own_sandbox.store.image_id(target2) == image_id


NO_CACHE_DOCKERFILE = """
FROM busybox AS s0
RUN cat /dev/urandom | head -c 100 | sha256sum | tee unique
FROM busybox AS s1
RUN cat /dev/urandom | head -c 100 | sha256sum | tee unique2
FROM scratch
COPY --from=s0 unique /
COPY --from=s1 unique2 /
"""


# dockerfile_cache_test.go: testNoCache
def test_no_cache(own_sandbox: Sandbox) -> None:
    context = own_sandbox.context(NO_CACHE_DOCKERFILE)
    first = own_sandbox.export(context)
    second = own_sandbox.export(context, "--no-cache")
    assert (first / "unique").read_text() != (second / "unique").read_text()
    assert (first / "unique2").read_text() != (second / "unique2").read_text()

    third = own_sandbox.export(context, "--no-cache-filter", "s1")
    assert (second / "unique").read_text() == (third / "unique").read_text()
    assert (first / "unique2").read_text() != (third / "unique2").read_text()


# dockerfile_cache_test.go: testCacheMountModeNoCache (moby/buildkit#5305)
def test_cache_mount_mode_no_cache(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS base
ARG FOO=abc
RUN --mount=type=cache,target=/cache,mode=0773 touch /cache/$FOO && ls -l /cache | wc -l > /out
FROM scratch
COPY --from=base /out /
"""
    context = own_sandbox.context(dockerfile)
    own_sandbox.export(context)
    assert (own_sandbox.export(context, "--no-cache") / "out").read_text() == "2\n"
    out = own_sandbox.export(context, "--no-cache", "--build-arg", "FOO=def")
    assert (out / "out").read_text() == "2\n"
    # safety check without no-cache
    assert (own_sandbox.export(context, "--build-arg", "FOO=ghi") / "out").read_text() == "3\n"


# dockerfile_cache_test.go: testWildcardRenameCache (#2008)
def test_wildcard_rename_cache(own_sandbox: Sandbox) -> None:
    context = own_sandbox.context(
        "\nFROM alpine\nCOPY file* /files/\nRUN ls /files/file1\n", file("file1", "foo")
    )
    own_sandbox.build_ok(context)
    (context / "file1").rename(context / "file2")
    # cache should be invalidated and build should fail
    own_sandbox.build_fails(context)
