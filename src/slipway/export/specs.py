"""What `--output`, `--cache-to` and `--cache-from` ask for: the flags parsed into plain values.

Kept apart from the exporters so that a build that writes nothing but an image imports none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import msgspec

from slipway._fields import BadFields, key_value, split_fields
from slipway.choices import OUTPUT_TYPES, OutputType
from slipway.epoch import parse_epoch
from slipway.errors import InvalidReference, UsageError
from slipway.image.reference import Reference, parse_reference

__all__ = [
    "OUTPUT_TYPES",
    "CacheMode",
    "CacheSpec",
    "OutputSpec",
    "OutputType",
    "parse_cache_from",
    "build_outputs",
    "parse_annotations",
    "parse_cache_to",
    "parse_output",
]

CacheMode = Literal["min", "max"]
# buildx's annotation levels; the image manifest's is the one a store image has.
_MANIFEST = "manifest"
_OTHER_LEVELS = ("index", "manifest-descriptor", "index-descriptor")
STDOUT = "-"

# The attributes each exporter takes, as BuildKit names them.
_EPOCH = ("source-date-epoch", "rewrite-timestamp")
_ATTRIBUTES: dict[OutputType, tuple[str, ...]] = {
    "image": ("name", "push", *_EPOCH),
    "registry": ("name", "push", *_EPOCH),
    "docker": ("dest", "name", *_EPOCH),
    "oci": ("dest", "name", "tar", *_EPOCH),
    "local": ("dest",),
    "tar": ("dest", "source-date-epoch"),
}


class OutputSpec(msgspec.Struct, frozen=True):
    type: OutputType = "image"
    dest: str | None = None  # a path, or "-" for stdout (docker, oci, tar)
    names: tuple[str, ...] = ()  # name=, besides -t
    push: bool = False
    # source-date-epoch=, as written (checked): the image's time instead of the build's SOURCE_DATE_EPOCH; ""
    # unsets it. None: not given.
    source_date_epoch: str | None = None
    rewrite_timestamp: bool = False  # rewrite-timestamp=true: the layers' file times clamped to the epoch
    tar: bool = True  # type=oci,tar=false: dest is a directory, the OCI layout's files in it

    @property
    def makes_image(self) -> bool:
        """True when the output is an image (store, registry, archive), so it has an image ID."""
        return self.type in ("image", "registry", "docker", "oci")

    @property
    def tags_store(self) -> bool:
        """True when the image is kept in the store under its names (type=image and type=registry)."""
        return self.type in ("image", "registry")

    @property
    def to_stdout(self) -> bool:
        return self.dest == STDOUT


def parse_output(text: str, flag: str = "--output") -> OutputSpec:
    """BuildKit's CSV form (`type=oci,dest=out.tar`, quotes allowed: `"name=a,b"`), or a bare DIR / `-`."""
    fields = _csv_fields(text, flag, "type=local,dest=DIR")
    if len(fields) == 1 and "=" not in fields[0]:
        return (
            OutputSpec(type="tar", dest=STDOUT)
            if fields[0] == STDOUT
            else OutputSpec(type="local", dest=fields[0])
        )
    attributes = _attributes(fields, text, flag)
    kind = attributes.pop("type", None)
    if kind is None:
        raise UsageError(f"{flag} {text!r}: no type=; expected one of {', '.join(OUTPUT_TYPES)}")
    if kind not in OUTPUT_TYPES:
        raise UsageError(f"{flag} {text!r}: unknown type {kind!r}; expected one of {', '.join(OUTPUT_TYPES)}")
    output_type: OutputType = kind
    allowed = _ATTRIBUTES[output_type]
    for key in attributes:
        if key not in allowed:
            raise UsageError(
                f"{flag} {text!r}: type={output_type} has no attribute {key!r}; it takes {', '.join(allowed)}"
            )
    names = tuple(name.strip() for name in attributes.get("name", "").split(",") if name.strip())
    for name in names:
        try:
            parse_reference(name)
        except InvalidReference as err:
            raise UsageError(f"{flag} {text!r}: name {name!r}: {err}") from err
    push = _boolean(attributes.get("push", "false"), flag, text) or output_type == "registry"
    epoch = attributes.get("source-date-epoch")
    if epoch is not None:
        try:
            parse_epoch(epoch)
        except ValueError as err:
            raise UsageError(f"{flag} {text!r}: source-date-epoch={epoch!r}: {err}") from None
    dest = attributes.get("dest")
    if output_type in ("docker", "oci", "local", "tar") and not dest:
        hint = "DIR" if output_type == "local" else "FILE (or dest=- for stdout)"
        raise UsageError(f"{flag} {text!r}: type={output_type} needs dest={hint}")
    if output_type == "local" and dest == STDOUT:
        raise UsageError(f"{flag} {text!r}: type=local writes a directory; for stdout use type=tar,dest=-")
    tar = _boolean(attributes.get("tar", "true"), flag, text)
    if not tar and dest == STDOUT:
        raise UsageError(f"{flag} {text!r}: tar=false writes a directory; name it with dest=DIR")
    return OutputSpec(
        type=output_type,
        dest=dest,
        names=names,
        push=push,
        source_date_epoch=epoch,
        rewrite_timestamp=_boolean(attributes.get("rewrite-timestamp", "false"), flag, text),
        tar=tar,
    )


def build_outputs(
    outputs: Sequence[OutputSpec], *, push: bool = False, load: bool = False
) -> tuple[OutputSpec, ...]:
    """Every --output of a build, with --push and --load as buildx reads them: no --output is the store
    (type=image); --push sets push=true on each image output, or adds one that pushes when there is none;
    --load adds the store when no output keeps the image there (there is no daemon to load it into)."""
    chosen = list(outputs) or [OutputSpec()]
    if push:
        chosen = [msgspec.structs.replace(spec, push=True) if spec.tags_store else spec for spec in chosen]
        if not any(spec.tags_store for spec in chosen):
            chosen.append(OutputSpec(push=True))
    if load and not any(spec.tags_store for spec in chosen):
        chosen.append(OutputSpec())
    if sum(spec.to_stdout for spec in chosen) > 1:
        raise UsageError("--output: only one output can write to stdout (dest=-)")
    return tuple(chosen)


def _csv_fields(text: str, flag: str, example: str) -> list[str]:
    try:
        fields = [field.strip() for field in split_fields(text)]
    except BadFields as err:
        raise UsageError(f"{flag} {text!r}: {err}") from err
    if not any(fields):
        raise UsageError(f"{flag} needs a value, e.g. {example}")
    return fields


def _attributes(fields: Sequence[str], text: str, flag: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for field in fields:
        pair = key_value(field)
        if pair is None or not pair[0]:
            raise UsageError(f"{flag} {text!r}: {field!r} is not KEY=VALUE")
        attributes[pair[0]] = pair[1].strip()
    return attributes


def _boolean(value: str, flag: str, text: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", ""):
        return True
    if lowered in ("false", "0"):
        return False
    raise UsageError(f"{flag} {text!r}: {value!r} is not true or false")


# --- --cache-to and --cache-from ----------------------------------------------------------------------------


class CacheSpec(msgspec.Struct, frozen=True):
    type: Literal["registry", "local", "inline"]  # inline: in the image's own config (--cache-to only)
    ref: str | None = None  # type=registry: where the cache manifest is tagged
    path: Path | None = None  # type=local: dest= (export) or src= (import), an OCI layout directory
    mode: CacheMode = "min"  # export only: min, the final image's steps; max, every step the build ran
    text: str = ""  # as the user wrote it, for messages

    def describe(self) -> str:
        return (
            "the image" if self.type == "inline" else str(self.ref if self.type == "registry" else self.path)
        )


# BuildKit's format choices for --cache-to; slipway writes the one they name when true (OCI media types, an
# image manifest), and no other.
_CACHE_FORMAT = ("oci-mediatypes", "image-manifest")


def parse_cache_to(text: str) -> CacheSpec:
    return _parse_cache(
        text, "--cache-to", path_key="dest", attributes=("ref", "dest", "mode", *_CACHE_FORMAT)
    )


def parse_cache_from(text: str) -> CacheSpec:
    return _parse_cache(text, "--cache-from", path_key="src", attributes=("ref", "src"))


def _parse_cache(text: str, flag: str, *, path_key: str, attributes: tuple[str, ...]) -> CacheSpec:
    fields = _csv_fields(text, flag, "type=registry,ref=REGISTRY/REPOSITORY:TAG")
    if len(fields) == 1 and "=" not in fields[0]:
        fields = ["type=registry", f"ref={fields[0]}"]  # buildx: a bare value is a registry ref
    values = _attributes(fields, text, flag)
    kind = values.pop("type", "")
    if kind == "inline" and flag == "--cache-to":
        return _inline(values, flag, text)
    if kind not in ("registry", "local"):
        raise UsageError(
            f"{flag} {text!r}: unsupported type {kind!r}; slipway has type=registry and type=local"
            + (" (and type=inline for --cache-to)" if flag == "--cache-to" else "")
        )
    for key in values:
        if (
            key not in attributes
            or (kind == "registry" and key == path_key)
            or (kind == "local" and key == "ref")
        ):
            usable = [name for name in attributes if name != ("ref" if kind == "local" else path_key)]
            raise UsageError(
                f"{flag} {text!r}: type={kind} has no attribute {key!r}; it takes {', '.join(usable)}"
            )
    for key in _CACHE_FORMAT:
        if key in values and not _boolean(values[key], flag, text):
            raise UsageError(f"{flag} {text!r}: {key}=false: slipway writes its cache with {key}=true only")
    mode = values.get("mode", "min")
    if mode not in ("min", "max"):
        raise UsageError(f"{flag} {text!r}: mode={mode!r}; expected min or max")
    if kind == "registry":
        ref = values.get("ref")
        if not ref:
            raise UsageError(f"{flag} {text!r}: type=registry needs ref=REGISTRY/REPOSITORY[:TAG]")
        reference = _reference(ref, flag, text)
        return CacheSpec(type="registry", ref=str(reference), mode=mode, text=text)  # type: ignore[arg-type]
    path = values.get(path_key)
    if not path:
        raise UsageError(f"{flag} {text!r}: type=local needs {path_key}=DIR")
    return CacheSpec(type="local", path=Path(path), mode=mode, text=text)  # type: ignore[arg-type]


def _inline(values: dict[str, str], flag: str, text: str) -> CacheSpec:
    """type=inline: the records of the image's own steps in its config, read back by `--cache-from IMAGE`.
    As BuildKit's, it holds mode=min only: the steps of the image's layers."""
    for key, value in values.items():
        if key != "mode":
            raise UsageError(f"{flag} {text!r}: type=inline has no attribute {key!r}; it takes mode=min")
        if value != "min":
            raise UsageError(f"{flag} {text!r}: type=inline holds the image's own steps only (mode=min)")
    return CacheSpec(type="inline", text=text)


def _reference(ref: str, flag: str, text: str) -> Reference:
    try:
        reference = parse_reference(ref)
    except InvalidReference as err:
        raise UsageError(f"{flag} {text!r}: {err}") from err
    if reference.digest is not None and flag == "--cache-to":
        raise UsageError(f"{flag} {text!r}: a cache is written to a tag, not a digest")
    return reference


def parse_annotations(texts: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """--annotation [manifest:]KEY=VALUE, in order (a key given twice: the last value)."""
    found: dict[str, str] = {}
    for text in texts:
        key, separator, value = text.partition("=")
        level, colon, rest = key.partition(":")
        if colon and (level in _OTHER_LEVELS or level.startswith(("manifest[", "index["))):
            raise UsageError(
                f"--annotation {text}: slipway sets manifest annotations only; write {rest}={value} or "
                f"manifest:{rest}={value}"
            )
        if colon and level == _MANIFEST:
            key = rest
        if not separator or not key:
            raise UsageError(f"--annotation {text!r}: expected [manifest:]KEY=VALUE")
        found[key] = value
    return tuple(found.items())
