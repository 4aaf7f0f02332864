"""Named contexts (`--build-context NAME=...`) in the conversion, as BuildKit's dockerfile2llb uses them.

A stage named NAME is replaced by the context (its lines never run); FROM NAME, COPY --from=NAME and RUN
--mount from=NAME read it when NAME is not a stage. An image context resolves only when a needed stage asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_never

from slipway.errors import ImageNotFound, InvalidReference, SourceLocation, StageNotFound
from slipway.frontend.convert.options import BaseImage
from slipway.frontend.convert.state import StageBase, StageState
from slipway.frontend.named_contexts import NamedContext, context_source_name
from slipway.frontend.stages import Platform, Stage
from slipway.graph.ops import ContextSource, Copy, ImageSource, ScratchSource, StepMeta, Vertex

if TYPE_CHECKING:
    from slipway.frontend.convert.converter import Converter

__all__ = ["copy_named_tree", "named_base", "named_source", "named_stage"]


def named_base(
    converter: Converter, named: NamedContext, platform: Platform, location: SourceLocation
) -> StageBase:
    """What FROM NAME (or a stage named NAME) starts from when NAME is a --build-context."""
    match named.kind:
        case "scratch":
            return StageBase(platform=platform)
        case "image":
            return StageBase(platform=platform, image=_named_image(converter, named, platform, location))
        case "stage":
            stage = named_stage(converter, named, location)
            return StageBase(platform=platform, parent=converter.dispatch_stage(stage))
        case "directory":
            return StageBase(platform=platform, tree=_named_tree(named))
        case _:
            assert_never(named.kind)


def named_source(converter: Converter, named: NamedContext, location: SourceLocation) -> Vertex:
    """What COPY --from=NAME (RUN --mount from=NAME) reads when NAME is a --build-context."""
    match named.kind:
        case "directory":
            return _named_tree(named)
        case "scratch":
            return Vertex(ScratchSource())
        case "stage":
            return converter.dispatch_stage(named_stage(converter, named, location)).root
        case "image":
            platform = converter.target_platform
            image = _named_image(converter, named, platform, location)
            source = ImageSource(ref=image.ref, manifest_digest=image.manifest_digest, platform=str(platform))
            return Vertex(
                source, meta=StepMeta(name=f"[context {named.name}] {image.ref}", location=location)
            )
        case _:
            assert_never(named.kind)


def named_stage(converter: Converter, named: NamedContext, location: SourceLocation) -> Stage:
    """The stage `target:STAGE` names."""
    stage = converter.staged.named.get(named.value.lower())
    if stage is None:
        raise StageNotFound(
            f"--build-context {named.name}=target:{named.value}: no stage named {named.value!r}", location
        )
    return stage


def copy_named_tree(converter: Converter, state: StageState, tree: Vertex) -> None:
    """FROM a named directory: a stage whose file system is that directory (one layer)."""
    name = f"[{state.stage.display_name}] FROM {tree.meta.name}"
    meta = StepMeta(name=name, stage=state.stage.display_name, location=state.stage.location)
    state.root = Vertex(Copy(sources=(".",), dest="/"), inputs=(state.root, tree), meta=meta)
    state.layers += 1
    converter.commit(state, "COPY . / # named context", True)


def _named_image(
    converter: Converter, named: NamedContext, platform: Platform, location: SourceLocation
) -> BaseImage:
    key = (named.value, str(platform))
    known = converter.images.get(key)
    if known is not None:
        return known
    try:
        image = converter.resolver.resolve(named.value, str(platform))
    except (ImageNotFound, InvalidReference) as err:
        raise type(err)(f"--build-context {named.name}={named.value}: {err.message}", location) from err
    converter.images[key] = image
    return image


def _named_tree(named: NamedContext) -> Vertex:
    source = ContextSource(name=context_source_name(named), exclude=named.exclude)
    return Vertex(source, meta=StepMeta(name=f"[context {named.name}] load from client"))
