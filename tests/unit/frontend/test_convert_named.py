"""--build-context NAME=... in the converter: which references a named context answers, and what it builds."""

from __future__ import annotations

from slipway.errors import ImageNotFound
from slipway.frontend.convert import BaseImage, ConvertOptions, convert
from slipway.frontend.named_contexts import NamedContext, find_named_context
from slipway.frontend.parser import parse
from slipway.graph.ops import BuildGraph, ContextSource, Copy, Exec, ImageSource, ScratchSource, walk
from slipway.image.oci import ContainerConfig, ImageConfig, RootFS, sha256_digest
from slipway.image.reference import parse_reference


class Images:
    """Knows every image (no layers) and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def resolve(self, ref: str, platform: str) -> BaseImage:
        self.calls.append((ref, platform))
        config = ImageConfig(architecture="amd64", os="linux", rootfs=RootFS(), config=ContainerConfig())
        name = str(parse_reference(ref))
        return BaseImage(ref=name, manifest_digest=sha256_digest(name.encode()), config=config)


class NoImages:
    def resolve(self, ref: str, platform: str) -> BaseImage:
        raise ImageNotFound(f"{ref}: no such image")


def build(text: str, *contexts: NamedContext, resolver: Images | NoImages | None = None) -> BuildGraph:
    options = ConvertOptions(named_contexts=contexts)
    return convert(parse(text, path="Dockerfile"), options, resolver or Images())


def test_names_compare_as_normalized_references() -> None:
    alpine = NamedContext("alpine", "image", "busybox")
    assert find_named_context((alpine,), "alpine:latest") is alpine
    assert find_named_context((alpine,), "docker.io/library/alpine") is alpine
    assert find_named_context((alpine,), "alpine:3.20") is None
    assert find_named_context((NamedContext("scratch", "image", "x"),), "scratch") is None


def test_from_a_named_image_resolves_that_image() -> None:
    resolver = Images()
    graph = build("FROM alpine\nRUN true\n", NamedContext("alpine", "image", "busybox:1"), resolver=resolver)
    sources = [vertex.op for vertex in walk(graph.target.root) if isinstance(vertex.op, ImageSource)]
    assert [source.ref for source in sources] == ["docker.io/library/busybox:1"]
    assert [ref for ref, _ in resolver.calls] == ["busybox:1"]


def test_a_stage_named_as_a_context_is_replaced_and_its_lines_never_run() -> None:
    text = "FROM nothing-pulled AS base\nRUN echo never\nFROM base\nRUN echo after\n"
    graph = build(text, NamedContext("base", "scratch"), resolver=NoImages())
    runs = [vertex.op.args[-1] for vertex in walk(graph.target.root) if isinstance(vertex.op, Exec)]
    assert runs == ["echo after"]
    assert any(isinstance(vertex.op, ScratchSource) for vertex in walk(graph.target.root))


def test_a_named_directory_for_copy_from_and_from() -> None:
    libs = NamedContext("libs", "directory", "/srv/libs", exclude=("*.key",))
    graph = build("FROM libs AS files\nFROM scratch\nCOPY --from=libs /a /a\nCOPY --from=files /b /b\n", libs)
    contexts = {vertex.op for vertex in walk(graph.target.root) if isinstance(vertex.op, ContextSource)}
    assert contexts == {ContextSource(name="named:libs", exclude=("*.key",))}
    copies = [vertex for vertex in walk(graph.target.root) if isinstance(vertex.op, Copy)]
    assert [copy.op.sources for copy in copies] == [("/a",), (".",), ("/b",)]


def test_only_the_stages_the_target_needs_resolve_their_contexts() -> None:
    text = "FROM broken AS unused\nFROM busybox AS other\nFROM alpine AS base\nRUN true\n"
    missing = (NamedContext("unused", "image", "nosuchimage"), NamedContext("busybox", "image", "dontexist"))
    resolver = Images()
    build(text, *missing, resolver=resolver)
    assert [ref for ref, _ in resolver.calls] == ["alpine"]


def test_target_names_another_stage() -> None:
    text = "FROM scratch AS helper\nCOPY --from=0 /x /x\nFROM scratch AS base\nFROM base\n"
    graph = build(text.replace("COPY --from=0 /x /x\n", ""), NamedContext("base", "stage", "helper"))
    assert graph.target.root == graph.stages[0].root
