"""Which images an archive holds, and under which names: what `slipway save IMAGE...` asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slipway.errors import InvalidReference
from slipway.image.reference import parse_reference
from slipway.store import ImageRecord, Store

__all__ = ["ImageSelection", "select_images"]


@dataclass(frozen=True, slots=True)
class ImageSelection:
    image: ImageRecord
    names: tuple[str, ...]  # normalized references written as the image's tags; empty: saved untagged
    platforms: tuple[
        ImageRecord, ...
    ] = ()  # an image index's images, one per platform (`image` is the first)

    @property
    def label(self) -> str:
        """How messages name the image: its first name as asked for, else its ID."""
        return parse_reference(self.names[0]).familiar() if self.names else self.image.id


def select_images(store: Store, refs: Sequence[str]) -> list[ImageSelection]:
    """Resolve each ref (ImageNotFound naming it); an image asked for twice appears once with both names.

    As `docker save`: an image asked for by name is saved with that name; by ID, with no name. A name that holds
    images of several platforms is their image index in an OCI archive (a docker archive takes the one it shows).
    """
    order: list[str] = []
    images: dict[str, ImageRecord] = {}
    names: dict[str, list[str]] = {}
    platforms: dict[str, tuple[ImageRecord, ...]] = {}
    for ref in refs:
        image = store.images.resolve(ref)
        name = _name_of(ref, image)
        members = tuple(store.images.members(name)) if name is not None else ()
        key = image.id if len(members) < 2 else name or image.id  # a name of several platforms: its index
        if key not in images:
            order.append(key)
            images[key] = image
            names[key] = []
            platforms[key] = members if len(members) > 1 else ()
        if name is not None and name not in names[key]:
            names[key].append(name)
    return [
        ImageSelection(image=images[key], names=tuple(names[key]), platforms=platforms[key]) for key in order
    ]


def _name_of(ref: str, image: ImageRecord) -> str | None:
    try:
        parsed = parse_reference(ref)
    except InvalidReference:
        return None  # an image ID or a prefix of one
    if parsed.digest is not None:
        return None
    name = str(parsed)
    return name if name in image.names else None
