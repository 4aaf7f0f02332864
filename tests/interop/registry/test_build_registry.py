"""`slipway build` with a real registry on 127.0.0.1: FROM images pulled by policy, --push, and the build
cache exported to and imported from a registry (and an OCI layout directory) across two stores.

The build helpers (busybox base image, the `slipway` command bound to a root) come from
tests/integration/conftest.py, loaded under a name of its own as tests/interop/test_build_vs_buildkit.py does.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _registry_servers import Registry, free_port, skopeo_inspect

import build_helpers

pytestmark = [pytest.mark.interop, pytest.mark.root]


helpers = build_helpers.load()
busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar
Slipway = helpers.Slipway
make_context = helpers.make_context

PULL_MISSING = {"SLIPWAY_PULL_POLICY": "missing"}


@pytest.fixture(scope="module")
def base_in_registry(registry: Registry, busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox, pushed to the loopback registry from a store of its own: no test store has it until it pulls."""
    seed = Slipway(tmp_path_factory.mktemp("seed") / "store")
    helpers.import_busybox(seed, busybox_tar, "busybox:seed")
    name = f"{registry.host}/tests/build-base:v1"
    seed.ok("push", "busybox:seed", name)
    return name


@pytest.fixture
def empty_store(tmp_path: Path) -> Slipway:
    return Slipway(tmp_path / "store")


# -- FROM images and the pull policy --------------------------------------------------------------------------


def test_from_an_image_only_in_the_registry_is_pulled(
    empty_store: Slipway, base_in_registry: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", f"FROM {base_in_registry}\nRUN echo built > /built\n")

    result = empty_store.build_ok(context, "-t", "pulled:v1", env=PULL_MISSING)

    assert f"load metadata for {base_in_registry}" in result.stderr
    assert empty_store.run_output("pulled:v1", "cat", "/built") == "built\n"
    assert base_in_registry in {f"{row.repository}:{row.tag}" for row in empty_store.images()}


def test_an_evaluation_reads_only_the_config_of_an_image_in_the_registry(
    empty_store: Slipway, base_in_registry: str, tmp_path: Path
) -> None:
    # BuildKit's outline and check resolve a FROM's config (its ENV, ONBUILD, platform), not its layers.
    dockerfile = f"FROM {base_in_registry} AS base\nARG MODE=fast\nENV PATH=$PAHT:/opt\nRUN echo $MODE\n"
    context = make_context(tmp_path / "ctx", dockerfile)
    outline = empty_store.build(context, "--call", "outline", "--format", "json", env=PULL_MISSING)
    assert outline.returncode == 0, helpers.describe(outline)
    assert [arg["name"] for arg in json.loads(outline.stdout)["args"]] == ["MODE"]
    check = empty_store.build(context, "--check", env=PULL_MISSING)
    assert "Usage of undefined variable '$PAHT' (did you mean $PATH?)" in check.stdout, helpers.describe(
        check
    )
    assert empty_store.images() == [], "nothing was pulled"
    assert empty_store.build_ok(context, "-t", "evaluated:v1", env=PULL_MISSING).returncode == 0


def test_pull_policy_never_names_the_missing_image(
    empty_store: Slipway, base_in_registry: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", f"FROM {base_in_registry}\nRUN true\n")

    result = empty_store.build(context, env={"SLIPWAY_PULL_POLICY": "never"})

    assert result.returncode == 1, helpers.describe(result)
    assert (
        f"image '{base_in_registry}' is not in the local store and the pull policy is never" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert empty_store.images() == []


def test_a_failed_pull_names_the_image_and_the_registry_error(empty_store: Slipway, tmp_path: Path) -> None:
    missing = f"127.0.0.1:{free_port()}/tests/nowhere:v1"
    context = make_context(tmp_path / "ctx", f"FROM {missing}\nRUN true\n")

    result = empty_store.build(context, env=PULL_MISSING)

    assert result.returncode == 1, helpers.describe(result)
    assert f"image '{missing}' is not in the local store, and pulling it failed" in result.stderr
    assert "cannot reach the registry" in result.stderr


def test_pull_always_fetches_the_newer_image(
    empty_store: Slipway, registry: Registry, busybox_tar: Path, tmp_path: Path
) -> None:
    name = f"{registry.host}/tests/build-moving:v1"
    publisher = Slipway(tmp_path / "publisher")
    helpers.import_busybox(publisher, busybox_tar, "busybox:seed")
    first = make_context(tmp_path / "first", "FROM busybox:seed\nRUN echo one > /version\n")
    publisher.build_ok(first, "-t", name)
    publisher.ok("push", name)
    context = make_context(tmp_path / "ctx", f"FROM {name}\nRUN cat /version > /seen\n")
    empty_store.build_ok(context, "-t", "consumer:v1", env=PULL_MISSING)
    assert empty_store.run_output("consumer:v1", "cat", "/seen") == "one\n"

    second = make_context(tmp_path / "second", "FROM busybox:seed\nRUN echo two > /version\n")
    publisher.build_ok(second, "-t", name)
    publisher.ok("push", name)
    empty_store.build_ok(context, "-t", "consumer:v1", env=PULL_MISSING)
    assert empty_store.run_output("consumer:v1", "cat", "/seen") == "one\n"  # "missing": the stored one

    empty_store.build_ok(context, "--pull", "-t", "consumer:v1", env=PULL_MISSING)
    assert empty_store.run_output("consumer:v1", "cat", "/seen") == "two\n"


# -- --push and type=registry ---------------------------------------------------------------------------------


def test_push_sends_the_image_to_each_name(
    empty_store: Slipway, registry: Registry, busybox_tar: Path, tmp_path: Path
) -> None:
    helpers.import_busybox(empty_store, busybox_tar)
    context = make_context(
        tmp_path / "ctx", "FROM busybox:test\nLABEL pushed=yes\nRUN echo pushed > /pushed\n"
    )
    names = [f"{registry.host}/tests/build-push:v1", f"{registry.host}/tests/build-push-copy:v2"]

    result = empty_store.build_ok(context, "--push", "-t", names[0], "-t", names[1])

    printed = dict(re.findall(r"^pushed (\S+)@(sha256:[0-9a-f]{64})$", result.stderr, re.MULTILINE))
    assert set(printed) == set(names)
    for name in names:
        seen = skopeo_inspect(name)
        assert seen["Digest"] == printed[name]
        assert seen["Labels"] == {"pushed": "yes"}
        assert len(seen["Layers"]) == 2  # busybox and the RUN
    assert {f"{row.repository}:{row.tag}" for row in empty_store.images()} >= set(names)


def test_a_built_image_is_kept_uncompressed_and_pushed_gzipped(
    empty_store: Slipway, registry: Registry, busybox_tar: Path, tmp_path: Path
) -> None:
    helpers.import_busybox(empty_store, busybox_tar)
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN head -c 300000 /dev/zero > /zeros\n")
    empty_store.build_ok(context, "-t", "deferred:v1")
    built_id = empty_store.image_id("deferred:v1")
    blobs = empty_store.root / "blobs" / "sha256"
    # The RUN's layer is measured, not written: its blob appears only when something reads it.
    local_layers = empty_store.inspect("deferred:v1")["RootFS"]["Layers"]
    assert local_layers[-1].removeprefix("sha256:") not in {path.name for path in blobs.iterdir()}
    name = f"{registry.host}/tests/deferred:v1"

    empty_store.ok("push", "deferred:v1", name)

    pushed = skopeo_inspect(name, "--raw")
    assert [layer["mediaType"] for layer in pushed["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+gzip"
    ] * 2
    assert pushed["layers"][-1]["size"] < 10_000  # 300 kB of zeros, gzipped
    assert empty_store.image_id("deferred:v1") == built_id
    assert empty_store.ok("system", "check").returncode == 0
    puller = Slipway(tmp_path / "puller")
    puller.ok("pull", name)
    assert puller.image_id(name) == built_id
    assert puller.run_output(name, "wc", "-c", "/zeros").split()[0] == "300000"
    empty_store.ok("push", "deferred:v1", name)  # the second push finds the gzipped blobs in place


def test_registry_output_pushes_its_name(
    empty_store: Slipway, registry: Registry, busybox_tar: Path, tmp_path: Path
) -> None:
    helpers.import_busybox(empty_store, busybox_tar)
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo out > /out\n")
    name = f"{registry.host}/tests/build-output-registry:v1"

    empty_store.build_ok(context, "--output", f"type=registry,name={name}")

    pulled = Slipway(tmp_path / "puller")
    pulled.ok("pull", name)
    assert pulled.run_output(name, "cat", "/out") == "out\n"


# -- the build cache across stores ----------------------------------------------------------------------------

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
MULTI_STAGE = """\
FROM busybox:test AS build
COPY src.txt /src/src.txt
RUN cat /src/src.txt > /artifact && echo junk > /junk
FROM busybox:test
RUN echo final > /final && rm /etc/group
WORKDIR /app
COPY --from=build /artifact /app/artifact
COPY note.txt /app/
"""
FINAL_STEPS = ("RUN echo final", "WORKDIR /app", "COPY --from=build", "COPY note.txt")
BUILD_STEPS = ("COPY src.txt", "RUN cat /src/src.txt")


@pytest.fixture
def machines(tmp_path: Path, busybox_tar: Path) -> tuple[Slipway, Slipway]:
    """Two stores with the same base image (saved from the first, loaded into the second) and nothing else."""
    first = Slipway(tmp_path / "machine-a")
    helpers.import_busybox(first, busybox_tar)
    second = Slipway(tmp_path / "machine-b")
    first.ok("save", "-o", str(tmp_path / "base.tar"), "busybox:test")
    second.ok("load", "-i", str(tmp_path / "base.tar"))
    return first, second


@pytest.fixture
def multi_stage(tmp_path: Path) -> Path:
    path: Path = make_context(tmp_path / "ctx", MULTI_STAGE, {"src.txt": "source\n", "note.txt": "note\n"})
    return path


def step_outcomes(progress: str) -> dict[str, str]:
    """What `--progress plain` says of each Dockerfile step (FROM lines aside): "CACHED", "DONE" or "ERROR"."""
    names = dict(re.findall(r"^#(\d+) (\[[^\]]+\] .+)$", progress, re.MULTILINE))
    outcomes = dict(re.findall(r"^#(\d+) (CACHED|DONE|ERROR)", progress, re.MULTILINE))
    return {
        name: outcomes.get(number, "?")
        for number, name in names.items()
        if not name.startswith("[internal]") and "] FROM " not in name
    }


def outcome_of(outcomes: dict[str, str], step: str) -> str:
    matching = [outcome for name, outcome in outcomes.items() if step in name]
    assert len(matching) == 1, (step, outcomes)
    return matching[0]


def manifest_digest(slipway: Slipway, ref: str) -> str:
    digest: str = slipway.inspect(ref)["RepoDigests"][0].split("@")[1]
    return digest


def blob_digests(slipway: Slipway) -> set[str]:
    return {"sha256:" + path.name for path in (slipway.root / "blobs" / "sha256").iterdir()}


def image_layers(slipway: Slipway, ref: str) -> set[str]:
    hexadecimal = manifest_digest(slipway, ref).split(":")[1]
    manifest = json.loads((slipway.root / "blobs" / "sha256" / hexadecimal).read_bytes())
    return {layer["digest"] for layer in manifest["layers"]}


def registry_manifest(ref: str) -> dict[str, Any]:
    completed = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    manifest: dict[str, Any] = json.loads(completed.stdout)
    return manifest


def layout_manifest(directory: Path) -> dict[str, Any]:
    index = json.loads((directory / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest: dict[str, Any] = json.loads((directory / "blobs" / "sha256" / digest).read_text())
    return manifest


@pytest.mark.parametrize("kind", ["registry", "local"])
def test_max_cache_makes_every_step_cached_on_another_store(
    kind: str, machines: tuple[Slipway, Slipway], multi_stage: Path, registry: Registry, tmp_path: Path
) -> None:
    first, second = machines
    if kind == "registry":
        ref = f"{registry.host}/tests/build-cache-max:buildcache"
        cache_to, cache_from = f"type=registry,ref={ref},mode=max", f"type=registry,ref={ref}"
    else:
        cache_to, cache_from = (
            f"type=local,dest={tmp_path / 'cache'},mode=max",
            f"type=local,src={tmp_path / 'cache'}",
        )

    built = first.build_ok(multi_stage, "-t", "app:v1", "--cache-to", cache_to, env=EPOCH)
    assert set(step_outcomes(built.stderr).values()) == {"DONE"}
    rebuilt = second.build_ok(multi_stage, "-t", "app:v1", "--cache-from", cache_from, env=EPOCH)

    outcomes = step_outcomes(rebuilt.stderr)
    assert len(outcomes) == len(FINAL_STEPS + BUILD_STEPS)
    assert set(outcomes.values()) == {"CACHED"}, rebuilt.stderr
    assert second.image_id("app:v1") == first.image_id("app:v1")
    assert manifest_digest(second, "app:v1") == manifest_digest(first, "app:v1")
    assert second.run_output("app:v1", "cat", "/app/artifact", "/app/note.txt") == "source\nnote\n"
    # The COPY --from hit, so the build stage's own layers were never fetched.
    cache = registry_manifest(ref) if kind == "registry" else layout_manifest(tmp_path / "cache")
    assert cache["config"]["mediaType"] == "application/vnd.buildkit.cacheconfig.v0"
    build_stage_only = {layer["digest"] for layer in cache["layers"]} - image_layers(first, "app:v1")
    assert len(build_stage_only) == 2  # COPY src.txt and the RUN
    assert not build_stage_only & blob_digests(second)

    # What was loaded is recorded locally: without --cache-from, the final stage hits again.
    again = step_outcomes(second.build_ok(multi_stage, "-t", "app:v1", env=EPOCH).stderr)
    assert [outcome_of(again, step) for step in FINAL_STEPS] == ["CACHED"] * len(FINAL_STEPS)


def test_min_cache_holds_the_final_stage_and_the_build_stage_is_never_run(
    machines: tuple[Slipway, Slipway], multi_stage: Path, registry: Registry
) -> None:
    first, second = machines
    ref = f"{registry.host}/tests/build-cache-min:buildcache"

    first.build_ok(multi_stage, "-t", "app:v1", "--cache-to", f"type=registry,ref={ref},mode=min", env=EPOCH)
    rebuilt = second.build_ok(multi_stage, "-t", "app:v1", "--cache-from", ref, env=EPOCH)

    # As BuildKit: the COPY --from hits, so nothing needs the build stage; it is not run and shows as CACHED.
    outcomes = step_outcomes(rebuilt.stderr)
    assert len(outcomes) == len(FINAL_STEPS + BUILD_STEPS)
    assert set(outcomes.values()) == {"CACHED"}, rebuilt.stderr
    assert second.image_id("app:v1") == first.image_id("app:v1")
    assert manifest_digest(second, "app:v1") == manifest_digest(first, "app:v1")
    assert len(registry_manifest(ref)["layers"]) == 1 + len(
        FINAL_STEPS
    )  # busybox and the final stage's steps
    assert second.run_output("app:v1", "cat", "/app/artifact", "/app/note.txt") == "source\nnote\n"


def test_a_build_stage_left_undone_runs_when_a_max_cache_wants_it(
    machines: tuple[Slipway, Slipway], multi_stage: Path, registry: Registry
) -> None:
    first, second = machines
    min_ref = f"{registry.host}/tests/build-cache-min-then-max:min"
    max_ref = f"{registry.host}/tests/build-cache-min-then-max:max"
    first.build_ok(multi_stage, "-t", "app:v1", "--cache-to", f"type=registry,ref={min_ref}", env=EPOCH)

    second.build_ok(
        multi_stage, "-t", "app:v1", "--cache-from", min_ref,
        "--cache-to", f"type=registry,ref={max_ref},mode=max", env=EPOCH,
    )  # fmt: skip

    # mode=max exports every step: the build stage the import left undone was run for it.
    layers = {layer["digest"] for layer in registry_manifest(max_ref)["layers"]}
    assert len(layers) == 1 + len(FINAL_STEPS + BUILD_STEPS)
    assert image_layers(first, "app:v1") < layers
    third = Slipway(second.root.parent / "machine-c")
    third.ok("load", "-i", str(second.root.parent / "base.tar"))
    rebuilt = third.build_ok(multi_stage, "-t", "app:v1", "--cache-from", max_ref, env=EPOCH)
    assert set(step_outcomes(rebuilt.stderr).values()) == {"CACHED"}, rebuilt.stderr
    assert third.run_output("app:v1", "cat", "/app/artifact") == "source\n"


def test_a_cache_that_does_not_exist_is_a_warning(
    machines: tuple[Slipway, Slipway], multi_stage: Path, registry: Registry
) -> None:
    _, second = machines
    ref = f"{registry.host}/tests/build-cache-nowhere:buildcache"

    result = second.build_ok(multi_stage, "-t", "app:v1", "--cache-from", f"type=registry,ref={ref}")

    assert re.search(
        rf"^WARNING: --cache-from type=registry,ref={re.escape(ref)}: .*building without it$",
        result.stderr,
        re.MULTILINE,
    ), result.stderr
    assert set(step_outcomes(result.stderr).values()) == {"DONE"}
    assert second.run_output("app:v1", "cat", "/app/artifact") == "source\n"


# -- an imported step's layer stays its blob until something reads its files ----------------------------------

LAYERED = """\
FROM busybox:test
COPY data /data
RUN echo ran > /ran
"""


def unpacked_trees(slipway: Slipway) -> int:
    """How many snapshot trees the store has on disk (an imported step not unpacked yet has none)."""
    return sum(1 for entry in (slipway.root / "snapshots").iterdir() if (entry / "fs").is_dir())


def base_layers(slipway: Slipway) -> int:
    return len(slipway.inspect("busybox:test")["RootFS"]["Layers"])


@pytest.fixture
def layered(tmp_path: Path) -> Path:
    files = {f"data/{index}.txt": f"file {index}\n" for index in range(20)}
    path: Path = make_context(tmp_path / "layered", LAYERED, files)
    return path


@pytest.mark.parametrize("kind", ["registry", "local"])
def test_a_fully_cached_import_unpacks_no_step_until_the_image_runs(
    kind: str, machines: tuple[Slipway, Slipway], layered: Path, registry: Registry, tmp_path: Path
) -> None:
    first, second = machines
    if kind == "registry":
        ref = f"{registry.host}/tests/build-cache-blobs:buildcache"
        cache_to, cache_from = f"type=registry,ref={ref},mode=max", f"type=registry,ref={ref}"
    else:
        cache_to, cache_from = (
            f"type=local,dest={tmp_path / 'cache'},mode=max",
            f"type=local,src={tmp_path / 'cache'}",
        )
    first.build_ok(layered, "-t", "app:v1", "--cache-to", cache_to, env=EPOCH)

    rebuilt = second.build_ok(layered, "-t", "app:v1", "--cache-from", cache_from, env=EPOCH)

    assert set(step_outcomes(rebuilt.stderr).values()) == {"CACHED"}, rebuilt.stderr
    assert second.image_id("app:v1") == first.image_id("app:v1")
    assert unpacked_trees(second) == 0  # no step's files written, nor the base image's: nothing read a tree
    # Nothing orphaned either: the cache's config is read, not stored (no image of the store references it).
    assert second.ok("system", "check").returncode == 0
    from slipway.store import Store

    with Store.open(second.root) as store:  # the steps' blobs are all their snapshots have: gc keeps them
        store.gc()
    assert second.ok("system", "check").returncode == 0
    second.ok("save", "-o", str(tmp_path / "app.tar"), "app:v1")  # blobs as they are: still no tree
    # A later build without --cache-from answers from the store, still without unpacking.
    again = second.build_ok(layered, "-t", "app:v2", env=EPOCH)
    assert set(step_outcomes(again.stderr).values()) == {"CACHED"}, again.stderr
    assert unpacked_trees(second) == 0

    assert second.run_output("app:v1", "cat", "/data/7.txt", "/ran") == "file 7\nran\n"
    assert unpacked_trees(second) == base_layers(second) + 2  # the COPY's and the RUN's, once
    assert second.run_output("app:v2", "cat", "/ran") == "ran\n"
    assert unpacked_trees(second) == base_layers(second) + 2


def test_a_step_after_the_imported_ones_unpacks_what_it_runs_on(
    machines: tuple[Slipway, Slipway], layered: Path, tmp_path: Path
) -> None:
    first, second = machines
    cache = tmp_path / "cache"
    first.build_ok(layered, "-t", "app:v1", "--cache-to", f"type=local,dest={cache},mode=max", env=EPOCH)
    (layered / "Dockerfile").write_text(LAYERED + "RUN cat /data/3.txt /ran > /both\n")

    rebuilt = second.build_ok(layered, "-t", "app:v2", "--cache-from", f"type=local,src={cache}", env=EPOCH)

    assert outcome_of(step_outcomes(rebuilt.stderr), "RUN cat /data/3.txt") == "DONE"
    assert unpacked_trees(second) == base_layers(second) + 3  # the two imported steps, and the new RUN's
    assert second.run_output("app:v2", "cat", "/both") == "file 3\nran\n"
    # -o type=local needs the tree of a step that is still a blob: unpacked then.
    (layered / "Dockerfile").write_text(LAYERED)
    third = Slipway(tmp_path / "machine-c")
    third.ok("load", "-i", str(tmp_path / "base.tar"))
    out = tmp_path / "out"
    third.build_ok(
        layered, "--cache-from", f"type=local,src={cache}", "-o", f"type=local,dest={out}", env=EPOCH
    )
    assert (out / "data" / "7.txt").read_text() == "file 7\n"
    assert (out / "ran").read_text() == "ran\n"
