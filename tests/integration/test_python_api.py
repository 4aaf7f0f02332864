"""`import slipway` as a library: what it builds, runs and shows is what the command line sees in the same store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.conftest import Slipway, make_context, mounts_under, runc_containers_under

import slipway

pytestmark = pytest.mark.root

DOCKERFILE = """\
FROM busybox:test
ARG GREETING=hello
LABEL purpose=api
RUN echo "$GREETING from RUN" > /greeting && mkdir -p /data && echo one > /data/one
CMD ["cat", "/greeting"]
"""


@pytest.fixture
def store(own_store: Slipway) -> Iterator[slipway.Store]:
    with slipway.Store.open(own_store.root) as opened:
        yield opened


def test_build_returns_the_image_the_command_line_inspects(
    own_store: Slipway, store: slipway.Store, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "context", DOCKERFILE)
    built = slipway.build(context, tags=["api-build:1"], build_args={"GREETING": "hi"}, store=store)

    document = own_store.inspect("api-build:1")
    assert built.image_id == document["Id"]
    assert built.names == ("docker.io/library/api-build:1",)
    assert built.image is not None and built.size == built.image.size == document["Size"]
    image = store.image("api-build:1")
    assert image == built.image
    assert [layer.diff_id for layer in image.layers] == document["RootFS"]["Layers"]
    assert image.container_config.labels == {"purpose": "api"}
    assert image.container_config.cmd == ("cat", "/greeting")
    assert any("RUN" in (entry.created_by or "") for entry in image.history)
    assert own_store.run_output("api-build:1") == "hi from RUN\n"
    assert built.image_id in {listed.id for listed in store.images()}


def test_run_captures_output_and_returns_the_exit_code(own_store: Slipway, store: slipway.Store) -> None:
    ran = slipway.run(
        "busybox:test",
        ["sh", "-c", 'echo "$WHO at $(pwd)"; echo oops >&2; exit 3'],
        env={"WHO": "api"},
        workdir="/tmp",
        capture_output=True,
        store=store,
    )

    assert ran == slipway.RunResult(exit_code=3, stdout=b"api at /tmp\n", stderr=b"oops\n")
    assert not mounts_under(own_store.root) and not runc_containers_under(own_store.root)


def test_a_failing_run_step_raises_run_failed_with_its_line(store: slipway.Store, tmp_path: Path) -> None:
    context = make_context(
        tmp_path / "context", "FROM busybox:test\nRUN echo before\nRUN echo broken >&2; exit 7\n"
    )

    with pytest.raises(slipway.errors.RunFailed) as failure:
        slipway.build(context, tags=["api-fails:1"], store=store)

    assert failure.value.process_exit_code == 7
    assert failure.value.location is not None and failure.value.location.line == 3
    assert any("broken" in line for line in failure.value.output_tail)
    with pytest.raises(slipway.errors.ImageNotFound):
        store.image("api-fails:1")


def test_a_local_output_makes_files_and_no_image(store: slipway.Store, tmp_path: Path) -> None:
    context = make_context(tmp_path / "context", DOCKERFILE)
    destination = tmp_path / "out"

    built = slipway.build(context, output=f"type=local,dest={destination}", store=store)

    assert built.image is None and built.image_id is None and built.size is None and built.names == ()
    assert (destination / "greeting").read_text() == "hello from RUN\n"


def test_without_a_store_the_verbs_use_the_default_root(
    own_store: Slipway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_ROOT", str(own_store.root))
    context = make_context(tmp_path / "context", DOCKERFILE)

    built = slipway.build(context, tags=["api-default:1"], labels={"kind": "default-root"})
    ran = slipway.run("api-default:1", capture_output=True)

    assert ran.exit_code == 0 and ran.stdout == b"hello from RUN\n"
    assert own_store.inspect("api-default:1")["Id"] == built.image_id
    with slipway.Store.open() as store:
        assert store.root == own_store.root
        assert store.image("api-default:1").container_config.labels == {
            "purpose": "api",
            "kind": "default-root",
        }


def test_errors_a_user_causes_are_slipway_errors(store: slipway.Store, tmp_path: Path) -> None:
    with pytest.raises(slipway.errors.ImageNotFound):
        store.image("no-such-image:1")
    with pytest.raises(slipway.errors.ContextError):
        slipway.build(tmp_path / "missing", store=store)
    with pytest.raises(slipway.SlipwayError):
        slipway.run("no-such-image:1", store=store)
