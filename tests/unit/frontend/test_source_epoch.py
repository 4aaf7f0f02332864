"""SOURCE_DATE_EPOCH as the frontend resolves it: build arg, ARG default, `context`, a source-only stage."""

from __future__ import annotations

import pytest

from slipway.epoch import MAX_EPOCH, parse_epoch
from slipway.errors import DockerfileError
from slipway.frontend.convert import BaseImage, ConvertOptions, convert
from slipway.frontend.named_contexts import NamedContext
from slipway.frontend.parser import parse
from slipway.graph.ops import BuildGraph, Exec, Mkdir, walk
from slipway.image.oci import ContainerConfig, ImageConfig, RootFS, sha256_digest

STAGE = "ARG SOURCE_DATE_EPOCH=src\nFROM scratch AS src\nARG V=1\nADD https://example.invalid/${V}.tgz /\n"
USE = "FROM alpine\nARG SOURCE_DATE_EPOCH\nWORKDIR /w\nRUN echo $SOURCE_DATE_EPOCH\n"


class Images:
    def resolve(self, ref: str, platform: str) -> BaseImage:
        config = ImageConfig(architecture="amd64", os="linux", rootfs=RootFS(), config=ContainerConfig())
        return BaseImage(ref=ref, manifest_digest=sha256_digest(ref.encode()), config=config)


class Dates:
    """A RemoteEpoch that answers one time and remembers what it was asked."""

    def __init__(self, answer: int | None) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, url: str, checksum: str | None) -> int | None:
        self.asked.append((url, checksum))
        return self.answer


def build(text: str, remote: Dates | None = None, **options: object) -> BuildGraph:
    return convert(
        parse(text, path="Dockerfile"),
        ConvertOptions(**options),  # type: ignore[arg-type]
        Images(),
        remote_epoch=remote,
    )


def run_env(graph: BuildGraph) -> dict[str, str]:
    (run,) = [vertex.op for vertex in walk(graph.target.root) if isinstance(vertex.op, Exec)]
    return dict(item.partition("=")[::2] for item in run.process_env)


def mkdir_time(graph: BuildGraph) -> int | None:
    (mkdir,) = [vertex.op for vertex in walk(graph.target.root) if isinstance(vertex.op, Mkdir)]
    return mkdir.created


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", None), ("0", 0), ("1700000000", 1_700_000_000), ("+12", 12), (str(MAX_EPOCH), MAX_EPOCH)],
)
def test_parse_epoch_reads_whole_seconds(text: str, expected: int | None) -> None:
    assert parse_epoch(text) == expected


@pytest.mark.parametrize("text", ["x", "1.5", " 1", "1_000", "١٢", "-1", str(MAX_EPOCH + 1), "0x10"])
def test_parse_epoch_refuses_what_is_not_a_time(text: str) -> None:
    with pytest.raises(ValueError, match="whole number|out of range"):
        parse_epoch(text)


def test_a_build_arg_dates_the_build_its_workdirs_and_the_arg_in_stages() -> None:
    graph = build(USE, build_args=(("SOURCE_DATE_EPOCH", "1700000001"),))
    assert graph.epoch == 1_700_000_001 and graph.epoch_url is None
    assert mkdir_time(graph) == 1_700_000_001
    assert run_env(graph)["SOURCE_DATE_EPOCH"] == "1700000001"


def test_without_an_epoch_workdir_keeps_its_digest() -> None:
    graph = build(USE)
    assert graph.epoch is None and mkdir_time(graph) is None
    assert Mkdir(path="/w").__struct_fields__[-1] == "created"  # the field exists, hashed only when set
    dated = build(USE, build_args=(("SOURCE_DATE_EPOCH", "5"),))
    assert dated.target.root.digest != graph.target.root.digest


def test_an_arg_default_dates_the_build_and_a_build_arg_overrides_it() -> None:
    text = "ARG SOURCE_DATE_EPOCH=1700000001\n" + USE
    assert build(text).epoch == 1_700_000_001
    assert build(text, build_args=(("SOURCE_DATE_EPOCH", "1700000002"),)).epoch == 1_700_000_002
    assert build(text, build_args=(("SOURCE_DATE_EPOCH", ""),)).epoch is None


def test_context_of_a_local_directory_is_no_epoch_and_unsets_the_arg() -> None:
    graph = build(USE, build_args=(("SOURCE_DATE_EPOCH", "context"),))
    assert graph.epoch is None
    assert "SOURCE_DATE_EPOCH" not in run_env(graph)


def test_context_of_a_git_or_http_context_is_its_own_date() -> None:
    graph = build(USE, build_args=(("SOURCE_DATE_EPOCH", "context"),), context_epoch=1_700_000_101)
    assert graph.epoch == 1_700_000_101
    assert run_env(graph)["SOURCE_DATE_EPOCH"] == "1700000101"


def test_a_named_contexts_date_comes_before_a_stage_of_that_name() -> None:
    named = (NamedContext("src", "directory", "/unused", epoch=1_700_000_601),)
    dates = Dates(1)
    graph = build(STAGE + USE, dates, named_contexts=named)
    assert graph.epoch == 1_700_000_601 and dates.asked == []
    undated = (NamedContext("src", "image", "busybox"),)
    assert build(STAGE + USE, dates, named_contexts=undated).epoch is None


def test_an_invalid_value_is_refused_in_buildkits_words() -> None:
    with pytest.raises(DockerfileError, match="invalid SOURCE_DATE_EPOCH: not-a-timestamp"):
        build("ARG SOURCE_DATE_EPOCH=not-a-timestamp\n" + USE)


def test_a_source_stage_is_dated_by_its_add_and_is_not_built() -> None:
    dates = Dates(1_700_000_402)
    graph = build(STAGE + USE, dates)
    assert dates.asked == [("https://example.invalid/1.tgz", None)]
    assert graph.epoch == 1_700_000_402 and graph.epoch_url == "https://example.invalid/1.tgz"
    assert run_env(graph)["SOURCE_DATE_EPOCH"] == "1700000402"
    assert [plan.name for plan in graph.stages] == [None]  # the source stage is not in the graph


def test_a_build_arg_overrides_the_stage_which_is_then_not_fetched() -> None:
    dates = Dates(1)
    assert build(STAGE + USE, dates, build_args=(("SOURCE_DATE_EPOCH", "7"),)).epoch == 7
    assert dates.asked == []


def test_without_a_remote_a_stage_date_is_unknown() -> None:
    assert build(STAGE + USE).epoch is None


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ("FROM alpine AS src\nADD https://x.invalid/a /\n", "SOURCE_DATE_EPOCH stage must use FROM scratch"),
        (
            "FROM scratch AS src\nCOPY Dockerfile /\n",
            "SOURCE_DATE_EPOCH stage does not meet source-only requirements: unsupported copy instruction",
        ),
        ("FROM scratch AS src\nARG A=1\n", "SOURCE_DATE_EPOCH stage must contain exactly one remote ADD"),
        (
            "FROM scratch AS src\nADD https://x.invalid/a /\nADD https://x.invalid/b /\n",
            "SOURCE_DATE_EPOCH stage must contain exactly one remote ADD",
        ),
        ("FROM scratch AS src\nADD a b /\n", "must contain exactly one remote ADD source"),
        ("FROM scratch AS src\nADD local.tar /\n", "must be a single HTTP(S) or Git ADD"),
    ],
)
def test_a_stage_that_is_not_source_only_is_refused_at_its_line(stage: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        build("ARG SOURCE_DATE_EPOCH=src\n" + stage + USE, Dates(1))
    assert caught.value.location is not None and caught.value.location.line == 2
