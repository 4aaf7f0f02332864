"""OCI image spec and Docker schema 2 types, as frozen msgspec structs.

Encoded field names follow the specs exactly; Python names are snake_case. Decode JSON from outside with
`decode_json(data, Type)` only after its digest has been checked.
"""

# No `from __future__ import annotations` here: msgspec resolves a Struct's annotations when a process first
# decodes the type, and a string annotation costs a compile() and an eval() each (~50 for an image config).
import datetime
import hashlib
from typing import NewType, TypeVar

import msgspec

Digest = NewType("Digest", str)  # "sha256:<hex>" of the bytes as stored (compressed layer, manifest, config)
DiffID = NewType("DiffID", str)  # "sha256:<hex>" of an uncompressed layer tar
ChainID = NewType("ChainID", str)  # identity of a stack of layers, per the OCI image spec

T = TypeVar("T")

# The PATH a container gets when its image's Env sets none (BuildKit's and docker's default), and the shell
# a shell-form command runs with when the image's config names none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

MANIFEST_MEDIA_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
INDEX_MEDIA_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_MANIFEST_LIST)


class Platform(msgspec.Struct, frozen=True, omit_defaults=True):
    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = msgspec.field(default=None, name="os.version")


class Descriptor(msgspec.Struct, frozen=True, omit_defaults=True):
    media_type: str = msgspec.field(name="mediaType")
    digest: Digest
    size: int
    annotations: dict[str, str] | None = None
    platform: Platform | None = None
    urls: tuple[str, ...] | None = None


def _schema_version_2() -> int:
    return 2


def _oci_manifest() -> str:
    return MEDIA_OCI_MANIFEST


def _oci_index() -> str:
    return MEDIA_OCI_INDEX


# schemaVersion and mediaType use default factories, not defaults: omit_defaults would drop them from the
# encoded JSON, and registries refuse a manifest without schemaVersion ("unrecognized manifest schema version 0").
class Manifest(msgspec.Struct, frozen=True, omit_defaults=True):
    config: Descriptor
    layers: tuple[Descriptor, ...]
    schema_version: int = msgspec.field(default_factory=_schema_version_2, name="schemaVersion")
    media_type: str | None = msgspec.field(default_factory=_oci_manifest, name="mediaType")
    annotations: dict[str, str] | None = None


class Index(msgspec.Struct, frozen=True, omit_defaults=True):
    manifests: tuple[Descriptor, ...]
    schema_version: int = msgspec.field(default_factory=_schema_version_2, name="schemaVersion")
    media_type: str | None = msgspec.field(default_factory=_oci_index, name="mediaType")
    annotations: dict[str, str] | None = None


class Healthcheck(msgspec.Struct, frozen=True, omit_defaults=True, rename="pascal"):
    """Docker's HEALTHCHECK; durations in nanoseconds, 0 meaning inherit."""

    test: tuple[str, ...] | None = None
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


class ContainerConfig(msgspec.Struct, frozen=True, omit_defaults=True, rename="pascal"):
    """The `config` object of an image config: what a container from the image starts with."""

    user: str | None = None
    exposed_ports: dict[str, dict[str, str]] | None = None
    env: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: dict[str, dict[str, str]] | None = None
    working_dir: str | None = None
    labels: dict[str, str] | None = None
    stop_signal: str | None = None
    args_escaped: bool | None = None
    healthcheck: Healthcheck | None = None
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] | None = None


class History(msgspec.Struct, frozen=True, omit_defaults=True):
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool | None = None


class RootFS(msgspec.Struct, frozen=True):
    diff_ids: tuple[DiffID, ...] = ()
    type: str = "layers"


class ImageConfig(msgspec.Struct, frozen=True, omit_defaults=True):
    architecture: str
    os: str
    rootfs: RootFS
    variant: str | None = None
    os_version: str | None = msgspec.field(default=None, name="os.version")
    created: str | None = None
    author: str | None = None
    config: ContainerConfig = ContainerConfig()
    history: tuple[History, ...] = ()
    # BuildKit's inline cache (--cache-to type=inline): the cache config of the image's own steps, base64 as Go
    # writes []byte. An image built FROM this one does not inherit it.
    inline_cache: str | None = msgspec.field(default=None, name="moby.buildkit.cache.v0")


def go_time(seconds: float) -> str:
    """A time as Go's time.Time writes it in JSON (RFC 3339, UTC, the fraction's trailing zeros trimmed:
    microseconds here): what BuildKit and docker write in image configs and cache records."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"


def encode_json(value: object) -> bytes:
    """Canonical bytes for a spec document: what gets hashed and stored."""
    return msgspec.json.encode(value)


def decode_json(data: bytes, type_: type[T]) -> T:
    return msgspec.json.decode(data, type=type_)


def sha256_digest(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def chain_ids(diff_ids: tuple[DiffID, ...] | list[DiffID]) -> tuple[ChainID, ...]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    result: list[ChainID] = []
    for diff_id in diff_ids:
        if not result:
            result.append(ChainID(diff_id))
        else:
            text = f"{result[-1]} {diff_id}".encode()
            result.append(ChainID("sha256:" + hashlib.sha256(text).hexdigest()))
    return tuple(result)
