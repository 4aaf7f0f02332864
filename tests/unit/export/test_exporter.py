"""The export step: what is refused before a build runs, and what a failed export shows and raises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.errors import ExportError, UsageError
from slipway.export.exporter import ExportTarget, check_output, export_result, output_names
from slipway.export.image import ExportOptions
from slipway.export.specs import OutputSpec
from slipway.graph.ops import BuildGraph
from slipway.progress.events import Event, StepFailed, StepStarted
from slipway.store import Store


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "root") as opened:
        yield opened


def test_names_are_normalized_and_kept_once() -> None:
    output = OutputSpec(names=("docker.io/library/app:latest", "reg.example/app:v2"))
    assert output_names(("app", "app:latest"), output) == (
        "docker.io/library/app:latest",
        "reg.example/app:v2",
    )


def test_a_push_needs_a_name_and_stdout_needs_a_stream() -> None:
    with pytest.raises(UsageError, match="pushing needs a name to push to"):
        check_output(OutputSpec(push=True), (), None)
    with pytest.raises(UsageError, match="needs a stream for stdout"):
        check_output(OutputSpec(type="tar", dest="-"), (), None)
    check_output(OutputSpec(type="tar", dest="-"), (), stdout=open("/dev/null", "wb"))  # noqa: SIM115


def test_a_destination_that_cannot_be_written_fails_the_export_step(store: Store, tmp_path: Path) -> None:
    graph = _scratch_graph()
    (tmp_path / "a-file").write_text("not a directory\n")
    dest = tmp_path / "a-file" / "fs.tar"
    target = ExportTarget(OutputSpec(type="tar", dest=str(dest)), (), ExportOptions())
    events = Recorder()
    with pytest.raises(ExportError, match=f"--output type=tar: cannot write {dest}"):
        export_result(store, graph.target, None, target, events)
    assert events.events[0] == StepStarted("export", "exporting to client tarball", events.events[0].at)
    failed = events.events[-1]
    assert isinstance(failed, StepFailed) and not failed.cancelled
    assert f"cannot write {dest}" in failed.error
    assert (tmp_path / "a-file").read_text() == "not a directory\n"


def _scratch_graph() -> BuildGraph:
    from slipway.frontend.convert import ConvertOptions, convert
    from slipway.frontend.parser import parse

    class NoImages:
        def resolve(self, ref: str, platform: str) -> object:
            raise AssertionError(f"FROM scratch resolves no image, asked for {ref}")

    parsed = parse("FROM scratch\n", path="Dockerfile")
    return convert(parsed, ConvertOptions(dockerfile="Dockerfile"), NoImages())  # type: ignore[arg-type]
