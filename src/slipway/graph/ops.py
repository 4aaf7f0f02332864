"""The low-level build graph: a DAG of small ops, like BuildKit's LLB.

A `Vertex` is an op plus the vertices it reads. Its `digest` covers the op's definition and its inputs'
digests, never `meta` (the step's name and Dockerfile line), so a comment added above a RUN keeps the
cache. Every vertex that yields a file system takes that file system's parent as `inputs[0]`
(Exec, Copy, Mkdir); a Copy reads its files from `inputs[1]`; a bind mount of RUN --mount reads from the
vertex it names. Image-config edits (ENV, CMD, LABEL ...) do not touch files: the converter folds them
into the stage's `ImageConfig`, so a LABEL edit never invalidates the cache of a later RUN (BuildKit does
the same).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import ClassVar, Literal, overload

import msgspec
from msgspec.structs import force_setattr

from slipway.choices import DEFAULT_PLATFORM, NetworkMode
from slipway.errors import SourceLocation
from slipway.graph.run_limits import RunLimits
from slipway.image.oci import Digest, History, ImageConfig


class ImageSource(msgspec.Struct, frozen=True):
    """A base image from the store: `ref` is normalized (docker.io/library/golang:1.24)."""

    op_tag: ClassVar[str] = "source.image"

    ref: str
    manifest_digest: Digest  # what the cache key of FROM depends on
    platform: str = DEFAULT_PLATFORM


class ScratchSource(msgspec.Struct, frozen=True):
    """The empty file system (FROM scratch)."""

    op_tag: ClassVar[str] = "source.scratch"


class ContextSource(msgspec.Struct, frozen=True):
    """The build context directory (or a named context). `exclude` holds the .dockerignore patterns."""

    op_tag: ClassVar[str] = "source.context"

    name: str = "context"
    exclude: tuple[str, ...] = ()


class InlineSource(msgspec.Struct, frozen=True):
    """Files whose content the Dockerfile holds (COPY <<EOF heredocs): (name, content, mode)."""

    op_tag: ClassVar[str] = "source.inline"

    files: tuple[tuple[str, str, int], ...]


class HttpSource(msgspec.Struct, frozen=True):
    """ADD https://...: one downloaded file, named `filename` in an otherwise empty tree."""

    op_tag: ClassVar[str] = "source.http"

    url: str
    filename: str
    checksum: str | None = None


class GitSource(msgspec.Struct, frozen=True):
    """ADD git@... (or a git URL context): a repository checkout. `url` is the remote, without fragment."""

    op_tag: ClassVar[str] = "source.git"
    # A check, not a definition: the checkout of a commit is the same with --checksum or without, and
    # so is its cache (BuildKit's testAddGitChecksumCache).
    unhashed: ClassVar[frozenset[str]] = frozenset({"checksum"})

    url: str
    ref: str | None = None
    keep_git_dir: bool = False
    submodules: bool = True
    checksum: str | None = None  # a prefix of the commit `ref` must resolve to


class RunMount(msgspec.Struct, frozen=True):
    """One RUN --mount. For bind/cache/secret with a source tree, that tree is `input` (an index into
    the Exec vertex's inputs), `source` the path inside it."""

    type: Literal["bind", "cache", "tmpfs", "secret", "ssh"]
    target: str
    source: str = "/"
    input: int | None = None
    readonly: bool = True
    id: str | None = None
    sharing: Literal["shared", "private", "locked"] = "shared"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    required: bool = False
    env: str | None = None


class Exec(msgspec.Struct, frozen=True):
    """RUN: `args` run in the container; the shell form arrives here already wrapped in SHELL.

    `proxy_env` (HTTP_PROXY ... from --build-arg) reaches the process but not the digest: as BuildKit's
    ProxyEnv, a changed proxy does not invalidate the step."""

    op_tag: ClassVar[str] = "exec"
    unhashed: ClassVar[frozenset[str]] = frozenset({"proxy_env"})
    added_fields: ClassVar[frozenset[str]] = frozenset({"platform", "limits"})

    args: tuple[str, ...]
    env: tuple[str, ...]  # "K=V", in order; the image env plus ARGs in scope
    cwd: str
    user: str  # "" means root
    network: NetworkMode = "default"
    security: Literal["sandbox", "insecure"] = "sandbox"
    mounts: tuple[RunMount, ...] = ()
    hostname: str | None = None
    proxy_env: tuple[str, ...] = ()  # "K=V", after `env`
    platform: str | None = None  # os/arch[/variant] when not the build machine's: the RUN is emulated
    limits: RunLimits | None = None  # --add-host, --shm-size, --ulimit of the build (None: none given)

    @property
    def process_env(self) -> tuple[str, ...]:
        """What the process sees: the env, then the proxy variables."""
        return self.env + self.proxy_env


class Copy(msgspec.Struct, frozen=True):
    """COPY/ADD of `sources` (paths or globs, relative to the source tree `inputs[1]`) to `dest`.

    `dest` is absolute (already joined with WORKDIR); a trailing "/" means "a directory". Docker's rules
    apply: a directory copies its contents, several sources need a directory destination.
    """

    op_tag: ClassVar[str] = "copy"

    sources: tuple[str, ...]
    dest: str
    chown: str | None = None  # "user[:group]" resolved in the destination tree
    chmod: str | None = None  # octal "755" or symbolic "u+x"
    link: bool = False
    parents: bool = False
    exclude: tuple[str, ...] = ()
    is_add: bool = False  # ADD: local tar archives are unpacked (unless unpack is False)
    unpack: bool | None = None
    follow_symlinks: bool = True


class Mkdir(msgspec.Struct, frozen=True):
    """WORKDIR: make `path` (with parents) if it does not exist; the dirs it makes get time `created` (the
    build's SOURCE_DATE_EPOCH) if set."""

    op_tag: ClassVar[str] = "mkdir"
    added_fields: ClassVar[frozenset[str]] = frozenset({"created"})

    path: str
    mode: int = 0o755
    chown: str | None = None
    created: int | None = None


Op = ImageSource | ScratchSource | ContextSource | InlineSource | HttpSource | GitSource | Exec | Copy | Mkdir


class StepMeta(msgspec.Struct, frozen=True):
    """What a user sees of a step; not part of the digest."""

    name: str  # "[build 2/4] RUN go build -o /bin/hello ."
    stage: str = ""  # stage name or index as text
    location: SourceLocation | None = None
    used_args: tuple[str, ...] = ()  # the ARGs whose values this step depends on (expanded or in RUN's env)


class Vertex(msgspec.Struct, frozen=True, eq=False):
    op: Op
    inputs: tuple[Vertex, ...] = ()
    meta: StepMeta = StepMeta(name="")
    digest: Digest = Digest("")  # derived from op and inputs when made: whatever is passed is replaced

    def __post_init__(self) -> None:
        force_setattr(self, "digest", vertex_digest(self.op, self.inputs))

    # By digest (which covers the op and every input) and meta: comparing or hashing the inputs field by
    # field would recurse down the whole chain below a vertex, and a Dockerfile may make that chain long.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vertex):
            return NotImplemented
        return self.digest == other.digest and self.meta == other.meta

    def __hash__(self) -> int:
        return hash(self.digest)


# Part of every vertex digest, and so of every cache key and every --cache-to manifest's keys: raise it when what
# a digest covers changes on purpose. tests/unit/graph/test_ops.py pins the digest of every op kind, so a change
# that was not on purpose (a renamed field, a new default) fails there first.
CACHE_KEY_VERSION = 1


def vertex_digest(op: Op, inputs: tuple[Vertex, ...]) -> Digest:
    """Over the op's tag (op_tag, written out: a class rename changes no digest), its fields and its inputs'
    digests."""
    # `unhashed` fields reach the worker only; `added_fields` came after digests were pinned: hashed when set,
    # so the steps that do not use them keep their digests (and caches).
    unhashed: frozenset[str] = getattr(op, "unhashed", frozenset())
    added: frozenset[str] = getattr(op, "added_fields", frozenset())
    definition = {
        "version": CACHE_KEY_VERSION,
        "op": op.op_tag,
        "def": {
            name: _plain(getattr(op, name))
            for name in op.__struct_fields__
            if name not in unhashed and not (name in added and getattr(op, name) is None)
        },
        "inputs": [vertex.digest for vertex in inputs],
    }
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return Digest("sha256:" + hashlib.sha256(text.encode()).hexdigest())


def _plain(value: object) -> object:
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def walk(root: Vertex, *more: Vertex) -> list[Vertex]:
    """Every vertex `root` (and `more` roots: a build for several platforms) needs, each once, inputs before the
    vertices that read them (depth first, in input order). Iterative: a chain of ten thousand steps is as deep
    as the walk goes."""
    order: list[Vertex] = []
    seen = {root.digest}
    pending: list[tuple[Vertex, int]] = [(root, 0)]  # a vertex and the next of its inputs to visit
    roots = list(reversed(more))
    while pending or roots:
        if not pending:
            next_root = roots.pop()
            if next_root.digest in seen:
                continue
            seen.add(next_root.digest)
            pending.append((next_root, 0))
        vertex, position = pending[-1]
        if position == len(vertex.inputs):
            pending.pop()
            order.append(vertex)
            continue
        pending[-1] = (vertex, position + 1)
        parent = vertex.inputs[position]
        if parent.digest not in seen:
            seen.add(parent.digest)
            pending.append((parent, 0))
    return order


class HistoryChain(Sequence[History]):
    """A stage's history: the history it starts from (a base image's, or another stage's), then its own
    entries. A stage built FROM another shares that one's history instead of copying it, so a chain of ten
    thousand stages holds each entry once, not once per stage after it."""

    __slots__ = ("_base", "_length", "_own")

    def __init__(self, base: Sequence[History], own: tuple[History, ...]) -> None:
        self._base = base
        self._own = own
        self._length = len(base) + len(own)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[History]:
        parts: list[Sequence[History]] = []
        node: Sequence[History] = self
        while isinstance(node, HistoryChain):  # iteratively: a chain may be ten thousand stages long
            parts.append(node._own)
            node = node._base
        parts.append(node)
        for part in reversed(parts):
            yield from part

    @overload
    def __getitem__(self, index: int) -> History: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[History, ...]: ...

    def __getitem__(self, index: int | slice) -> History | tuple[History, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        if not -self._length <= index < self._length:
            raise IndexError("history index out of range")
        position = index % self._length
        node: Sequence[History] = self
        while isinstance(node, HistoryChain) and position < len(node._base):
            node = node._base
        if isinstance(node, HistoryChain):
            return node._own[position - len(node._base)]
        return node[position]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(
            mine == theirs for mine, theirs in zip(self, other, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]


class StagePlan(msgspec.Struct, frozen=True):
    """One stage as the converter resolved it: its file system, its image config, its history."""

    index: int
    name: str | None
    root: Vertex  # the stage's final file system
    config: ImageConfig  # base config with every instruction applied; history and rootfs are the exporter's
    history: Sequence[History]  # the base image's history plus one entry per instruction
    base_layers: int = 0  # how many layers of `history`'s non-empty entries come from the base image
    image_layers: int = (
        0  # how many come from the image the stage (or the stage it is built FROM) starts FROM
    )
    location: SourceLocation | None = None


class BuildGraph(msgspec.Struct, frozen=True):
    """What a build makes: the target stage and every stage it needs (only those), in Dockerfile order."""

    target: StagePlan
    stages: tuple[StagePlan, ...]
    epoch: int | None = None  # SOURCE_DATE_EPOCH: image and history times, WORKDIR's dirs
    epoch_url: str | None = None  # where `epoch` came from, when a stage's ADD dates the build
