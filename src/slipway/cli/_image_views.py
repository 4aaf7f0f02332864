"""What `images`, `inspect` and `history` show, computed from store records: rows and documents as Docker has them.

Docker's notion of a parent image (a local build's base) is, here, an image whose layers are the first
layers of another, longer image: a child. Images without names that have children are "intermediate":
hidden by `images` without -a, as Docker hides its intermediate build images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from slipway._pathmatch import BadPattern, compile_pattern
from slipway.cli._humanize import created_at, human_size, parse_time, rfc3339, since
from slipway.errors import UsageError
from slipway.image.oci import ContainerConfig, History
from slipway.image.platforms import format_platform, image_platform
from slipway.image.reference import parse_reference
from slipway.store import ImageRecord, Store

NONE = "<none>"
_NEVER = datetime.min.replace(tzinfo=UTC)  # images without a creation time sort last
MISSING_IMAGE = "<missing>"
CREATED_BY_WIDTH = 45


def children_of(image: ImageRecord, images: Sequence[ImageRecord]) -> list[ImageRecord]:
    """The images built on `image`: their layers start with all of its layers, and go on."""
    own = image.config.rootfs.diff_ids
    if not own:
        return []
    return [
        other
        for other in images
        if len(other.config.rootfs.diff_ids) > len(own) and other.config.rootfs.diff_ids[: len(own)] == own
    ]


def short_id(digest: str) -> str:
    return digest.partition(":")[2][:12]


def split_name(name: str) -> tuple[str, str]:
    """A normalized name as `docker images` shows it: ("golang", "1.24"), ("localhost:5000/app", "v1")."""
    reference = parse_reference(name)
    familiar = reference.familiar()
    if reference.digest is not None:
        familiar = familiar.rsplit("@", 1)[0]
    if reference.tag is None:
        return familiar, NONE
    return familiar[: -len(reference.tag) - 1], reference.tag


# --- images -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ImageFilter:
    dangling: bool | None = None
    references: tuple[str, ...] = ()  # Go path.Match patterns, any of which may match
    labels: tuple[str, ...] = ()  # "key" or "key=value", all of which must match

    @classmethod
    def parse(cls, filters: Sequence[str], reference: str | None) -> ImageFilter:
        dangling: bool | None = None
        references: list[str] = [reference] if reference else []
        labels: list[str] = []
        for text in filters:
            key, equals, value = text.partition("=")
            if not equals:
                raise UsageError(f"bad format of filter {text!r} (expected name=value)")
            match key:
                case "dangling":
                    if value.lower() not in ("true", "false", "1", "0"):
                        raise UsageError(
                            f"invalid filter 'dangling={value}': use dangling=true or dangling=false"
                        )
                    dangling = value.lower() in ("true", "1")
                case "reference":
                    references.append(value)
                case "label":
                    labels.append(value)
                case _:
                    raise UsageError(
                        f"invalid filter {key!r}: slipway images takes dangling=, reference= and label="
                    )
        return cls(dangling=dangling, references=tuple(references), labels=tuple(labels))


@dataclasses.dataclass(frozen=True, slots=True)
class ImageRow:
    image: ImageRecord
    repository: str
    tag: str


def image_rows(images: Sequence[ImageRecord], selected: ImageFilter, *, show_all: bool) -> list[ImageRow]:
    """One row per name (one `<none>` row for an image without), newest image first."""
    rows: list[ImageRow] = []
    ordered = sorted(images, key=lambda image: (parse_time(image.created) or _NEVER, image.id), reverse=True)
    for image in ordered:
        if not image.names and not show_all and children_of(image, images) and selected.dangling is None:
            continue  # intermediate
        if selected.dangling is not None and selected.dangling != (not image.names):
            continue
        if not _labels_match(image.config.config, selected.labels):
            continue
        if selected.references:
            rows.extend(
                ImageRow(image, *split_name(name))
                for name in image.names
                if _reference_matches(selected.references, name)
            )
        elif image.names:
            rows.extend(ImageRow(image, *split_name(name)) for name in image.names)
        else:
            rows.append(ImageRow(image, NONE, NONE))
    return rows


def _labels_match(config: ContainerConfig, wanted: tuple[str, ...]) -> bool:
    labels = config.labels or {}
    for item in wanted:
        key, equals, value = item.partition("=")
        if key not in labels or (equals and labels[key] != value):
            return False
    return True


def _reference_matches(patterns: tuple[str, ...], name: str) -> bool:
    """Docker's reference.FamiliarMatch: the pattern against "repo:tag", then against "repo"."""
    repository, tag = split_name(name)
    candidates = [f"{repository}:{tag}", repository]
    return any(go_path_match(pattern, text) for pattern in patterns for text in candidates)


def go_path_match(pattern: str, text: str) -> bool:
    """Go's path.Match (slipway._pathmatch); a bad pattern is a usage error."""
    try:
        return compile_pattern(pattern).fullmatch(text) is not None
    except BadPattern as err:
        raise UsageError(f"invalid reference filter {pattern!r}: {err}") from None


def image_fields(row: ImageRow, now: datetime, *, no_trunc: bool) -> dict[str, object]:
    """The template fields of one `images` row, named as docker's (ID, Repository, Tag, ...)."""
    image = row.image
    created = parse_time(image.created)
    has_digest = row.repository != NONE
    return {
        "Containers": "N/A",
        "CreatedAt": created_at(created),
        "CreatedSince": since(created, now),
        "Digest": image.manifest_digest if has_digest else NONE,
        "ID": image.id if no_trunc else short_id(image.id),
        "Repository": row.repository,
        "SharedSize": "N/A",
        "Size": human_size(image.size, 3),
        "Tag": row.tag,
        "UniqueSize": "N/A",
        "VirtualSize": human_size(image.size),
        "Platform": format_platform(image_platform(image.config)),
    }


IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
    "Platform": "PLATFORM",
}


# --- inspect ----------------------------------------------------------------------------------------------


def inspect_document(image: ImageRecord) -> dict[str, object]:
    """`docker image inspect` for one image, as plain JSON values in Docker's key order."""
    config = image.config
    tags = [parse_reference(name).familiar() for name in image.names]
    repositories = dict.fromkeys(split_name(name)[0] for name in image.names)
    history = config.history
    return {
        "Id": image.id,
        "RepoTags": tags,
        "RepoDigests": [f"{repository}@{image.manifest_digest}" for repository in repositories],
        "Parent": "",
        "Comment": (history[-1].comment or "") if history else "",
        "Created": config.created or "",
        "DockerVersion": "",
        "Author": config.author or "",
        "Config": container_config_document(config.config),
        "Architecture": config.architecture,
        **({"Variant": config.variant} if config.variant else {}),
        "Os": config.os,
        "Size": image.size,
        "RootFS": {"Type": config.rootfs.type, "Layers": list(config.rootfs.diff_ids)},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


def container_config_document(config: ContainerConfig) -> dict[str, object]:
    # Docker shows an empty Cmd or Entrypoint as null, and leaves StopSignal out when unset (omitempty).
    document: dict[str, object] = {
        "User": config.user or "",
        "ExposedPorts": _plain(config.exposed_ports),
        "Env": _plain(config.env),
        "Cmd": _plain(config.cmd or None),
        "Healthcheck": _plain(config.healthcheck),
        "ArgsEscaped": config.args_escaped or False,
        "Volumes": _plain(config.volumes),
        "WorkingDir": config.working_dir or "",
        "Entrypoint": _plain(config.entrypoint or None),
        "OnBuild": _plain(config.on_build),
        "Labels": _plain(config.labels),
        "Shell": _plain(config.shell),
    }
    if config.stop_signal:
        document["StopSignal"] = config.stop_signal
    return document


def _plain(value: object) -> object:
    return msgspec.to_builtins(value) if value is not None else None


# --- history ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryRow:
    image_id: str | None  # the image's ID on the newest row, None (<missing>) below, as docker shows
    created: str | None
    created_by: str
    size: int
    comment: str


def history_rows(store: Store, image: ImageRecord) -> list[HistoryRow]:
    """Newest first; each non-empty history entry is paired with the next layer and shows its unpacked size."""
    diff_ids = list(image.config.rootfs.diff_ids)
    entries = list(image.config.history)
    if not entries:
        entries = [History() for _ in diff_ids]  # a config without history: one row per layer
    rows = []
    layer = 0
    for entry in entries:
        size = 0
        if not entry.empty_layer and layer < len(diff_ids):
            info = store.images.layer(diff_ids[layer])
            size = info.shown_size if info is not None else 0
            layer += 1
        rows.append(HistoryRow(None, entry.created, entry.created_by or "", size, entry.comment or ""))
    rows.reverse()
    if rows:
        rows[0] = dataclasses.replace(rows[0], image_id=image.id)
    return rows


def history_fields(
    row: HistoryRow, now: datetime, *, no_trunc: bool, human: bool = True
) -> dict[str, object]:
    created = parse_time(row.created)
    created_by = row.created_by.replace("\t", " ")
    if not no_trunc and len(created_by) > CREATED_BY_WIDTH:
        created_by = created_by[: CREATED_BY_WIDTH - 1] + "…"
    image_id = row.image_id if no_trunc or row.image_id is None else short_id(row.image_id)
    return {
        "ID": image_id or MISSING_IMAGE,
        "CreatedSince": since(created, now) if human else rfc3339(created),
        "CreatedAt": rfc3339(created),
        "CreatedBy": created_by,
        "Size": human_size(row.size, 3) if human else str(row.size),
        "Comment": row.comment,
    }


HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
