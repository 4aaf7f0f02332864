"""Image names (normalized tags) and how a user's text finds an image: Docker's lookup order."""

from __future__ import annotations

import re

from slipway.errors import ImageNotFound, InvalidReference
from slipway.image.reference import parse_reference
from slipway.store.meta import ImageRow, Transaction

__all__ = ["find_image", "tag_name"]

_IMAGE_ID = re.compile(r"(?:sha256:)?([0-9a-f]{1,64})")


def tag_name(name: str) -> str:
    """The stored form of a name: normalized, with ":latest" if it has no tag."""
    reference = parse_reference(name)
    if reference.digest is not None:
        raise InvalidReference(
            f"cannot use {name!r} as a name: a name has a tag, not a digest (e.g. 'app:v1')"
        )
    return str(reference)


def find_image(tx: Transaction, text: str) -> ImageRow | None:
    """Docker's order: a full ID, then a name, then a unique ID prefix."""
    id_match = _IMAGE_ID.fullmatch(text)
    if id_match and text.startswith("sha256:") and len(id_match.group(1)) == 64:
        return tx.image(text)
    try:
        reference = parse_reference(text)
    except InvalidReference:
        reference = None
    if reference is not None and reference.digest is not None:
        rows = tx.images_by_manifest(reference.digest)
        named = [
            row for row in rows if any(name.startswith(reference.repository + ":") for name in row.names)
        ]
        candidates = named or rows
        return candidates[0] if candidates else None
    if reference is not None:
        row = tx.image_named(str(reference))
        if row is not None:
            return row
    if id_match is None:
        return None
    rows = tx.images_by_prefix("sha256:" + id_match.group(1))
    if len(rows) > 1:
        raise ImageNotFound(f"image ID prefix {text!r} matches {len(rows)} images; give more digits")
    return rows[0] if rows else None
