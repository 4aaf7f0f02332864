"""`rmi` and `image prune` with Docker's rules (daemon/images/image_delete.go), over the store's verbs.

rmi NAME untags; the image goes with its last name unless other images are built on it (then it stays,
untagged, as Docker keeps a parent). rmi ID removes every name and the image, but refuses an image named
in several repositories or one with children, unless forced. Blobs and snapshots go at the store's gc(),
which `rmi` and `image prune` run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from slipway.cli._image_views import children_of, short_id
from slipway.errors import ImageInUse, InvalidReference
from slipway.image.reference import parse_reference
from slipway.store import ImageRecord, Store


@dataclass(frozen=True, slots=True)
class Removal:
    untagged: tuple[str, ...]  # familiar names ("busybox:latest")
    deleted: tuple[str, ...]  # image IDs: the image itself, then the unnamed parents that went with it


def remove_image(store: Store, ref: str, *, force: bool, prune_parents: bool = True) -> Removal:
    """What `rmi ref` does; ImageNotFound or ImageInUse (with what to do) when it cannot."""
    image = store.images.resolve(ref)
    name = _name_given(ref, image)
    if name is not None:
        others = [member for member in store.images.members(name) if member.id != image.id]
        store.images.untag(name)
        untagged: tuple[str, ...] = (parse_reference(name).familiar(),)
        platforms = _remove_unnamed(store, others, name)  # the name's images for other platforms go with it
        if len(image.names) > 1:
            return Removal(untagged=untagged, deleted=platforms)
        if not force and children_of(image, store.images.list()):
            return Removal(untagged=untagged, deleted=platforms)  # kept, untagged, for its children
    else:
        platforms = ()
        _refuse_conflicts(store, image, ref, force=force)
        for tag in image.names:
            store.images.untag(tag)
        untagged = tuple(parse_reference(tag).familiar() for tag in image.names)
    store.images.remove(image)
    parents = _remove_unnamed_parents(store, image) if prune_parents else []
    return Removal(untagged=untagged, deleted=(image.id, *parents, *platforms))


def _remove_unnamed(store: Store, images: list[ImageRecord], name: str) -> tuple[str, ...]:
    """Of `images` (a name's members for other platforms, read before `name` was removed), those left with no
    name and no children: a multi-platform name goes whole, as an index does in docker's containerd store."""
    removed = []
    for image in images:
        if set(image.names) <= {name} and not children_of(image, store.images.list()):
            store.images.remove(image)
            removed.append(image.id)
    return tuple(removed)


def _remove_unnamed_parents(store: Store, image: ImageRecord) -> list[str]:
    """As docker does: the unnamed parents the image kept, now without children, go with it."""
    removed: list[str] = []
    while True:
        images = store.images.list()
        parents = [
            other
            for other in images
            if not other.names and children_of(other, [image]) and not children_of(other, images)
        ]
        if not parents:
            return removed
        for parent in parents:
            store.images.remove(parent)
            removed.append(parent.id)


def _name_given(ref: str, image: ImageRecord) -> str | None:
    try:
        reference = parse_reference(ref)
    except InvalidReference:
        return None
    name = str(reference)
    return name if reference.digest is None and name in image.names else None


def _refuse_conflicts(store: Store, image: ImageRecord, ref: str, *, force: bool) -> None:
    if force:
        return
    repositories = {parse_reference(name).repository for name in image.names}
    if len(repositories) > 1:
        raise ImageInUse(
            f"conflict: unable to delete {short_id(image.id)} (must be forced) - image is referenced in multiple "
            f"repositories ({', '.join(parse_reference(name).familiar() for name in image.names)}); remove the "
            "names one by one, or use -f"
        )
    children = children_of(image, store.images.list())
    if children:
        shown = ", ".join(_label(child) for child in children)
        raise ImageInUse(
            f"conflict: unable to delete {ref} (must be forced) - image has dependent child images ({shown}); "
            "remove them first, or use -f"
        )


def _label(image: ImageRecord) -> str:
    return parse_reference(image.names[0]).familiar() if image.names else short_id(image.id)


def prune_images(store: Store, *, all_images: bool) -> Iterator[Removal]:
    """Remove dangling images (without names), or with `all_images` every image no running container uses,
    leaves first: an image with children goes only once its children have gone, as Docker's prune does."""
    in_use = store.leases.images_in_use()
    while True:
        images = store.images.list()
        doomed = [
            image
            for image in images
            if (all_images or not image.names) and image.id not in in_use and not children_of(image, images)
        ]
        if not doomed:
            return
        for image in doomed:
            untagged = []
            for name in image.names:
                store.images.untag(name)
                untagged.append(parse_reference(name).familiar())
            store.images.remove(image)
            yield Removal(untagged=tuple(untagged), deleted=(image.id,))
