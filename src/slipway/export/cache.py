"""The build cache shared through registries and directories: `--cache-to` and `--cache-from`, as BuildKit's.

    --cache-to   type=registry,ref=REF[,mode=min|max]   type=local,dest=DIR[,mode=min|max]
    --cache-from type=registry,ref=REF                   type=local,src=DIR        REF (= type=registry,ref=REF)

The exported cache is an OCI artifact, as BuildKit's with image-manifest=true: an image manifest whose config
(MEDIA_CACHE_CONFIG, BuildKit's cacheconfig.v0: export/_cache_config.py) lists records {cache key, the layer
chain of the step's snapshot, when it ran}, and whose layers are the blobs those records
need, packed by the image exporter's `ensure_layer`: the very blobs of the images, so an image rebuilt from the
cache on another machine has the same layer digests. In a directory it is an OCI image layout, tagged "latest".

Import reads the manifest and config when the build starts; the layers of a record are fetched only when the
solver needs that step's files (`CacheImport.load`), and only those the store lacks (by chain id or diff_id).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import msgspec

from slipway.errors import ArchiveError, ExportError
from slipway.export._cache_config import (
    MEDIA_CACHE_CONFIG,
    ChainRecord,
    decode_config,
    decode_inline,
    encode_config,
)
from slipway.export._files import replace_file
from slipway.export.image import ExportOptions, ensure_layer
from slipway.export.oci_layout import ANNOTATION_REF_NAME, blob_name
from slipway.export.specs import CacheMode, CacheSpec, parse_cache_from, parse_cache_to
from slipway.image.layers import LayerInfo
from slipway.image.oci import (
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_MANIFEST_LIST,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    Digest,
    Index,
    Manifest,
    RootFS,
    decode_json,
    encode_json,
    sha256_digest,
)
from slipway.image.reference import Reference, parse_reference
from slipway.store import SnapshotRecord, Store

if TYPE_CHECKING:
    from slipway.registry import RegistryClient, RegistryOptions

__all__ = [
    "MEDIA_CACHE_CONFIG",
    "CacheImport",
    "CacheMode",
    "CacheSpec",
    "export_cache",
    "parse_cache_from",
    "parse_cache_to",
]

log = logging.getLogger(__name__)

LAYOUT_TAG = "latest"  # the tag of the cache in a directory, as BuildKit's local cache names it
MAX_DOCUMENT_BYTES = 64 << 20  # manifest or config from outside: more than this is not a cache
READ_SIZE = 1 << 20

Emit = Callable[[str], None]
T = TypeVar("T")
_IMAGE_MANIFESTS = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
_INDEXES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_MANIFEST_LIST)
_ACCEPTED = (*_IMAGE_MANIFESTS, *_INDEXES)


# --- what the flags say --------------------------------------------------------------------------------------


# --- the format ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CacheDocument:
    """A cache as a manifest, its config and its records by key, checked against each other."""

    manifest: Manifest
    manifest_bytes: bytes
    config_bytes: bytes
    records: dict[str, ChainRecord]


def _document(records: Sequence[ChainRecord]) -> _CacheDocument:
    config_bytes = encode_config(records)
    layers = {info.descriptor.digest: info.descriptor for record in records for info in record.layers}
    manifest = Manifest(
        config=Descriptor(
            media_type=MEDIA_CACHE_CONFIG, digest=sha256_digest(config_bytes), size=len(config_bytes)
        ),
        layers=tuple(layers.values()),
        media_type=MEDIA_OCI_MANIFEST,
    )
    return _checked(manifest, encode_json(manifest), config_bytes, "the exported cache")


def _checked(manifest: Manifest, manifest_bytes: bytes, config_bytes: bytes, where: str) -> _CacheDocument:
    descriptors = {descriptor.digest: descriptor for descriptor in manifest.layers}
    records = {record.key: record for record in decode_config(config_bytes, descriptors, where)}
    return _CacheDocument(manifest, manifest_bytes, config_bytes, records)


# --- export --------------------------------------------------------------------------------------------------


def export_cache(
    store: Store,
    entries: Sequence[tuple[str, SnapshotRecord]],
    spec: CacheSpec,
    options: ExportOptions,
    *,
    registry: RegistryOptions | None = None,
    on_event: Emit | None = None,
) -> Digest:
    """Write the records of `entries` (cache key, the step's snapshot) to `spec`; the cache manifest's digest.

    Layers are packed with the image exporter's options, so they are the image's blobs."""
    emit = on_event or _ignore
    emit("preparing build cache for export")
    document = _plan(store, entries, options)
    store.blobs.put(document.config_bytes)
    if spec.type == "registry":
        assert spec.ref is not None
        digest = _push_cache(store, document, parse_reference(spec.ref), registry, emit)
    else:
        assert spec.path is not None
        digest = _write_layout(store, document, spec.path, emit)
    emit(f"writing cache manifest {digest} done")
    return digest


def _plan(
    store: Store, entries: Sequence[tuple[str, SnapshotRecord]], options: ExportOptions
) -> _CacheDocument:
    packed: dict[int, LayerInfo] = {}  # by snapshot id: chains share their lower snapshots
    records: list[ChainRecord] = []
    # Sorted by key: the same records give the same config and manifest digest.
    for key, snapshot in sorted(dict(entries).items()):
        chain = []
        for record in store.snapshots.chain(snapshot.id):
            if record.id not in packed:
                packed[record.id] = ensure_layer(store, record, options)
            chain.append(packed[record.id])
        records.append(ChainRecord(key, tuple(chain), snapshot.created or None))
    return _document(records)


def _push_cache(
    store: Store, document: _CacheDocument, reference: Reference, options: RegistryOptions | None, emit: Emit
) -> Digest:
    from slipway.registry import RegistryClient, RegistryOptions

    options = options or RegistryOptions()
    blobs = [*document.manifest.layers, document.manifest.config]
    with RegistryClient(reference.domain, options=options, push=True) as client:

        def push(descriptor: Descriptor) -> None:
            if client.has_blob(reference.path, descriptor.digest):
                return
            client.push_blob(reference.path, descriptor, store)
            emit(f"writing {_kind(descriptor, document)} {descriptor.digest}")

        _run_all(client, blobs, push, options.max_parallel)
        return client.put_manifest(
            reference.path, reference.tag or "latest", document.manifest_bytes, MEDIA_OCI_MANIFEST
        )


def _run_all(
    client: RegistryClient, items: Sequence[Descriptor], task: Callable[[Descriptor], None], parallel: int
) -> None:
    with ThreadPoolExecutor(
        max_workers=max(1, min(parallel, len(items))), thread_name_prefix="slipway-cache"
    ) as pool:
        futures = [pool.submit(task, item) for item in items]
        try:
            for future in futures:
                future.result()
        except BaseException:
            client.cancel()  # the other transfers stop at their next chunk
            for future in futures:
                future.cancel()
            raise


def _write_layout(store: Store, document: _CacheDocument, directory: Path, emit: Emit) -> Digest:
    """The cache as an OCI image layout in `directory`, tagged LAYOUT_TAG; other tags there are kept."""
    digest = sha256_digest(document.manifest_bytes)
    try:
        (directory / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        for descriptor in [*document.manifest.layers, document.manifest.config]:
            target = directory / blob_name(descriptor.digest)
            if not (target.is_file() and target.stat().st_size == descriptor.size):
                with (
                    store.blobs.stream(descriptor.digest, descriptor.size) as blob,
                    replace_file(target) as out,
                ):
                    shutil.copyfileobj(blob, out, READ_SIZE)
                emit(f"writing {_kind(descriptor, document)} {descriptor.digest}")
        with replace_file(directory / blob_name(digest)) as out:
            out.write(document.manifest_bytes)
        with replace_file(directory / "oci-layout") as out:
            out.write(b'{"imageLayoutVersion":"1.0.0"}')
        entry = Descriptor(
            media_type=MEDIA_OCI_MANIFEST,
            digest=digest,
            size=len(document.manifest_bytes),
            annotations={ANNOTATION_REF_NAME: LAYOUT_TAG},
        )
        kept = [
            d
            for d in _layout_index(directory).manifests
            if (d.annotations or {}).get(ANNOTATION_REF_NAME) != LAYOUT_TAG
        ]
        with replace_file(directory / "index.json") as out:
            out.write(encode_json(Index(manifests=(*kept, entry), media_type=MEDIA_OCI_INDEX)))
    except OSError as err:
        raise ExportError(f"cannot write the build cache to {directory}: {err}") from err
    return digest


def _layout_index(directory: Path) -> Index:
    path = directory / "index.json"
    if not path.exists():
        return Index(manifests=())
    try:
        return decode_json(path.read_bytes(), Index)
    except OSError as err:
        raise ArchiveError(f"cannot read {path}: {err}") from err
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ArchiveError(
            f"{path} is not an OCI image index ({err}); use an empty directory for the cache"
        ) from err


def _kind(descriptor: Descriptor, document: _CacheDocument) -> str:
    return "config" if descriptor.digest == document.manifest.config.digest else "layer"


# --- import --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    where: str
    document: _CacheDocument
    fetch: Callable[[LayerInfo], None]  # puts one layer blob in the store, verified


class CacheImport:
    """The records of every --cache-from, as the solver's RemoteCache: `has(key)`, `load(key)`.

    A context manager: registry connections stay open for the build and close at exit."""

    def __init__(self, store: Store, registry: RegistryOptions | None = None) -> None:
        self._store = store
        self._registry = registry
        self._sources: list[_Source] = []
        self._resources = ExitStack()

    def __enter__(self) -> CacheImport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._resources.close()

    def add(self, spec: CacheSpec) -> int:
        """Read the cache manifest and config of `spec`; how many records it has. RegistryError or ArchiveError
        when it cannot be read (BuildKit warns and builds without it: the caller decides)."""
        if spec.type == "registry":
            assert spec.ref is not None
            sources = self._registry_sources(parse_reference(spec.ref))
        else:
            assert spec.path is not None
            sources = [_layout_source(self._store, spec.path)]
        self._sources += sources
        return sum(len(source.document.records) for source in sources)

    def has(self, key: str) -> bool:
        return any(key in source.document.records for source in self._sources)

    def load(self, key: str) -> SnapshotRecord:
        """The snapshot of `key`'s record, its missing layers fetched (not unpacked: the store unpacks a tree
        when something first reads it), and `key` recorded locally. Threads loading one chain wait for one
        load (the store's chain locks)."""
        found = self._store.cache.lookup(key)
        if found is not None:
            return found
        source = next(source for source in self._sources if key in source.document.records)
        layers = source.document.records[key].layers
        log.debug("cache %s: loading %s (%d layers)", source.where, key, len(layers))
        snapshot = self._store.snapshots.record_layers(layers, fetch=source.fetch)
        assert snapshot is not None  # a record has at least one layer (_checked)
        self._record_prefixes(source, layers, self._store.snapshots.chain(snapshot.id))
        return self._store.snapshots.get(snapshot.id)  # with the created time the record gave it

    def _record_prefixes(
        self, source: _Source, layers: tuple[LayerInfo, ...], chain: list[SnapshotRecord]
    ) -> None:
        """Record locally every key of `source` whose chain is a prefix of `layers` (the steps below the loaded
        one): their snapshots are in the store now, so the next build hits them without --cache-from."""
        if len(chain) != len(layers):
            return  # not one snapshot per layer: nothing to pair
        digests = [layer.descriptor.digest for layer in layers]
        for key, record in source.document.records.items():
            depth = len(record.layers)
            if (
                0 < depth <= len(digests)
                and [info.descriptor.digest for info in record.layers] == digests[:depth]
            ):
                self._store.cache.record(key, chain[depth - 1].id)
                if record.created is not None:
                    self._store.snapshots.set_created(chain[depth - 1].id, record.created)

    def _registry_sources(self, reference: Reference) -> list[_Source]:
        """A cache manifest's records; or, as BuildKit reads `--cache-from IMAGE`, the inline caches of an
        image (of each platform's, for an index)."""
        from slipway.registry import RegistryClient, RegistryOptions

        client = self._resources.enter_context(
            RegistryClient(reference.domain, options=self._registry or RegistryOptions())
        )
        where = str(reference)

        def fetch(layer: LayerInfo) -> None:
            client.fetch_blob(reference.path, layer.descriptor, self._store.blobs)

        def config_of(manifest: Manifest) -> bytes:
            if manifest.config.size > MAX_DOCUMENT_BYTES:
                raise ArchiveError(
                    f"{where}: the config is {manifest.config.size} bytes, more than one holds"
                )
            if self._store.blobs.has(manifest.config.digest):  # an image of the store's own (inline cache)
                return self._store.blobs.read(manifest.config.digest)
            return client.fetch_document(reference.path, manifest.config, MAX_DOCUMENT_BYTES)

        body, media_type, _ = client.get_manifest(
            reference.path, reference.digest or reference.tag or "latest", _ACCEPTED
        )
        if media_type in _INDEXES:
            manifests = []
            for entry in _decoded(body, Index, where).manifests:
                if entry.media_type in _IMAGE_MANIFESTS and entry.size <= MAX_DOCUMENT_BYTES:
                    member, _, _ = client.get_manifest(reference.path, entry.digest, _IMAGE_MANIFESTS)
                    manifests.append((member, entry.media_type))
        else:
            manifests = [(body, media_type)]
        sources = []
        for manifest_body, manifest_type in manifests:
            manifest = _decoded(manifest_body, Manifest, where)
            if manifest.config.media_type == MEDIA_CACHE_CONFIG:
                manifest = _cache_manifest(manifest_body, manifest_type, where)
                document = _checked(manifest, manifest_body, config_of(manifest), where)
            else:
                document = _inline_document(manifest, manifest_body, config_of(manifest), where)
            sources.append(_Source(where=where, document=document, fetch=fetch))
        return sources


class _InlineConfig(msgspec.Struct):
    """What an image config says of its inline cache (ImageConfig's fields, only those read here)."""

    rootfs: RootFS = RootFS()
    inline_cache: str | None = msgspec.field(default=None, name="moby.buildkit.cache.v0")


def _inline_document(manifest: Manifest, body: bytes, config: bytes, where: str) -> _CacheDocument:
    """An image's inline cache as a cache document: no records when it has none (BuildKit ignores it too)."""
    inline = _decoded(config, _InlineConfig, where)
    records = (
        decode_inline(inline.inline_cache, manifest.layers, inline.rootfs.diff_ids, where)
        if inline.inline_cache
        else []
    )
    return _CacheDocument(manifest, body, config, {record.key: record for record in records})


def _decoded(body: bytes, kind: type[T], where: str) -> T:
    try:
        return decode_json(body, kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ArchiveError(f"{where}: not a valid {kind.__name__.strip('_').lower()}: {err}") from err


def _cache_manifest(body: bytes, media_type: str, where: str) -> Manifest:
    if media_type != MEDIA_OCI_MANIFEST:
        raise ArchiveError(
            f"{where} is not a slipway build cache: it is a {media_type or 'document of no type'}"
        )
    try:
        manifest = decode_json(body, Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ArchiveError(f"{where}: the cache manifest is not valid: {err}") from err
    if manifest.config.media_type != MEDIA_CACHE_CONFIG:
        raise ArchiveError(f"{where} is not a build cache: its config is a {manifest.config.media_type}")
    if manifest.config.size > MAX_DOCUMENT_BYTES:
        raise ArchiveError(
            f"{where}: the cache config is {manifest.config.size} bytes, more than a cache holds"
        )
    return manifest


def _layout_source(store: Store, directory: Path) -> _Source:
    where = str(directory)
    index_path = directory / "index.json"
    if not index_path.is_file():
        raise ArchiveError(f"{where}: no index.json; is this a directory written by --cache-to type=local?")
    index = _layout_index(directory)
    tagged = [d for d in index.manifests if (d.annotations or {}).get(ANNOTATION_REF_NAME) == LAYOUT_TAG]
    candidates = tagged or list(index.manifests)
    if len(candidates) != 1:
        raise ArchiveError(f"{where}: index.json has no manifest tagged {LAYOUT_TAG!r}")
    entry = candidates[0]
    body = _read_blob(directory, entry)
    manifest = _cache_manifest(body, entry.media_type, where)
    document = _checked(manifest, body, _read_blob(directory, manifest.config), where)

    def fetch(layer: LayerInfo) -> None:
        descriptor = layer.descriptor
        try:
            with (
                open(directory / blob_name(descriptor.digest), "rb") as blob,
                store.blobs.ingest(expected=descriptor.digest, expected_size=descriptor.size) as writer,
            ):
                shutil.copyfileobj(blob, writer, READ_SIZE)
        except OSError as err:
            raise ArchiveError(f"{where}: cannot read layer {descriptor.digest}: {err}") from err

    return _Source(where=where, document=document, fetch=fetch)


def _read_blob(directory: Path, descriptor: Descriptor) -> bytes:
    path = directory / blob_name(descriptor.digest)
    if descriptor.size > MAX_DOCUMENT_BYTES:
        raise ArchiveError(
            f"{directory}: {descriptor.digest} is {descriptor.size} bytes, more than a cache holds"
        )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ArchiveError(f"{directory}: cannot read {blob_name(descriptor.digest)}: {err}") from err
    if len(data) != descriptor.size or "sha256:" + hashlib.sha256(data).hexdigest() != descriptor.digest:
        raise ArchiveError(f"{directory}: {blob_name(descriptor.digest)} does not match its digest")
    return data


def _ignore(line: str) -> None:
    return None
