"""The solver: walks a build graph, looks each step up in the cache, runs what misses, reports progress.

Every step that yields a file system gets a new snapshot whose parent is its input's snapshot: the store's
snapshotter prepares it and hands out the plan of the step's root (an overlay of the parents over the new
snapshot, or the new snapshot's tree alone), which the step mounts, runs on, unmounts and commits; so the
snapshot holds exactly the step's changes: its layer.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import threading
import time
from collections import Counter, deque
from contextlib import ExitStack, suppress
from functools import partial
from pathlib import Path
from typing import Protocol, assert_never, cast

import msgspec

from slipway.choices import ContainerNetwork
from slipway.errors import (
    ArchiveError,
    BuildCancelled,
    ContextError,
    ImageNotFound,
    PlatformNotRunnable,
    RunFailed,
    SecretError,
    SlipwayError,
    SourceNotFound,
    UsageError,
)
from slipway.frontend.ignore import IgnoreMatcher
from slipway.graph.ops import (
    ContextSource,
    Copy,
    Exec,
    GitSource,
    HttpSource,
    ImageSource,
    InlineSource,
    Mkdir,
    Op,
    RunMount,
    ScratchSource,
    Vertex,
    walk,
)
from slipway.graph.run_limits import RunLimits
from slipway.image.platforms import parse_platform
from slipway.progress.clip import MAX_OUTPUT_LINE_BYTES
from slipway.progress.events import EventSink, StepCached, StepLog, step
from slipway.solver.context_hash import FileHashCache, hash_selection
from slipway.solver.keys import combine
from slipway.solver.lazy import OnDemand, plan
from slipway.solver.results import Result
from slipway.solver.scheduler import Scheduler
from slipway.solver.session_mounts import SessionInputs, check_required, session_mounts, with_variables
from slipway.solver.validators import Validator, Validators
from slipway.store import (
    Hold,
    NewTree,
    PrepareMode,
    SnapshotRecord,
    Store,
    is_full,
    naming_disk_full,
    no_space,
)
from slipway.worker.executor import BindMount, ContainerSpec, Executor, ProcessSpec, TmpfsMount
from slipway.worker.fileops import copy_files, make_directory
from slipway.worker.rootpath import Root, split_last
from slipway.worker.snapshots import mounted

log = logging.getLogger(__name__)

OUTPUT_TAIL_LINES = 12
_SHOWN_LINE = 200  # characters of a failed process's last line in a one-line error


class SolveOptions(msgspec.Struct, frozen=True):
    context_dir: Path
    no_cache: bool = False
    no_cache_stages: frozenset[str] = frozenset()  # --no-cache-filter
    max_parallelism: int = msgspec.field(default_factory=lambda: os.cpu_count() or 2)
    default_network: ContainerNetwork = "host"  # what RUN --network=default means here
    session: SessionInputs = msgspec.field(default_factory=SessionInputs)  # --secret and --ssh
    named_dirs: tuple[tuple[str, Path], ...] = ()  # (ContextSource name, directory) of --build-context dirs


class RemoteCache(Protocol):
    """Build cache records from outside the store (--cache-from), asked after a local miss. `has` is cheap;
    `load` fetches and unpacks the record's layers, records the key in the store and returns its snapshot
    (safe from several threads at once, also for one key)."""

    def has(self, key: str) -> bool: ...

    def load(self, key: str) -> SnapshotRecord: ...


def _hashes_tree(source: Result) -> bool:
    """Whether a step's cache key takes in the content of the tree it reads from `source`."""
    # A remote source's key covers its content already (a download's hash, a checkout's commit), and a
    # revalidated download has no tree until a step needs it.
    return source.tree is not None and source.origin != "remote"


def _prepare_mode(op: Op) -> PrepareMode:
    """What the step's snapshot needs below it: a COPY creates a new tree under the destination's top-level
    name and reads nothing of the layers below, unless it has --chown (names need the image's /etc/passwd)."""
    if not isinstance(op, Copy) or op.chown is not None:
        return "merged"
    top = posixpath.normpath("/" + op.dest).lstrip("/").split("/", 1)[0]
    return NewTree(top) if top else "merged"


class Solver:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        events: EventSink,
        options: SolveOptions,
        work_dir: Path,
        *,
        hold: Hold,
        remote_cache: RemoteCache | None = None,
    ) -> None:
        self._store = store
        self._hold = hold  # every snapshot the build uses or makes, kept from gc until the build ends
        self._executor = executor
        self._events = events
        self._options = options
        self._work_dir = work_dir  # removed by the caller when the build ends
        self._hashes = FileHashCache(store.root / "cache" / "context-hashes.msgpack")
        self._validators = Validators(store.root / "cache" / "url-validators.msgpack")
        self._run_slots = threading.Semaphore(max(1, options.max_parallelism))
        self._cancelled = threading.Event()
        self._counter = 0
        self._counter_lock = threading.Lock()
        self._remote_cache = remote_cache
        self._deferred: set[str] = set()  # cache keys of remote hits whose layers are not fetched yet
        self._planned: dict[str, str] = {}  # vertex digest -> its cache key, worked out before the build
        self._unneeded: frozenset[str] = frozenset()  # vertices only hits read: left undone (solver/lazy.py)
        self._later: OnDemand[Result] = OnDemand()  # what was left undone, by cache key, if it is asked for
        self._emptied_caches: set[str] = set()  # cache mounts this --no-cache build started empty

    def solve(self, root: Vertex) -> Result:
        return self.materialize(self.solve_all(root)[root.digest])

    def solve_all(self, root: Vertex, *more: Vertex) -> dict[str, Result]:
        """Every vertex's result, by vertex digest; remote cache hits among them are not materialized. `more`
        roots (a build for several platforms) are solved with `root`, in parallel where the graph allows."""
        scheduler: Scheduler[Result] = Scheduler(
            self._solve_vertex, workers=max(4, self._options.max_parallelism * 2), on_interrupt=self._cancel
        )
        try:
            if self._remote_cache is not None:
                self._planned, self._unneeded = plan(walk(root, *more), (root, *more), self._planned_result)
            results = scheduler.run(root, *more)
        except KeyboardInterrupt as err:
            # Ctrl-C, or SIGTERM/SIGHUP, which the command line turns into the same interrupt.
            cause = "Ctrl-C" if not err.args else str(err.args[0])
            raise BuildCancelled(
                f"build cancelled ({cause}); running steps were stopped and cleaned up"
            ) from err
        finally:
            self._hashes.save()
            self._validators.save()
        return results

    def materialize(self, result: Result) -> Result:
        """`result` with its snapshot in the store (a remote cache hit's layers are fetched now, once needed),
        or its tree (a download the server said had not changed is made now)."""
        if result.fetch is not None:
            return msgspec.structs.replace(result, tree=result.fetch(), fetch=None)
        if result.cache_key in self._later:
            return self._later.get(result.cache_key)
        if self._remote_cache is None or result.cache_key not in self._deferred:
            return result
        with self._store.lease():
            snapshot = self._held(self._remote_cache.load(result.cache_key))
        return msgspec.structs.replace(result, snapshot=snapshot)

    def _held(self, snapshot: SnapshotRecord | None) -> SnapshotRecord | None:
        """`snapshot`, held for the rest of the build. Called inside `store.lease()` with the call that got
        it, so no gc comes in between (gc waits for leases)."""
        if snapshot is not None:
            self._hold.add(snapshot.id)
        return snapshot

    def _cancel(self) -> None:
        self._cancelled.set()
        self._executor.kill_all()

    # -- one vertex ----------------------------------------------------------------------------------

    def _solve_vertex(self, vertex: Vertex, inputs: tuple[Result, ...]) -> Result:
        if self._cancelled.is_set():
            raise BuildCancelled("build cancelled")
        op = vertex.op
        match op:
            case ScratchSource():
                return Result(cache_key=vertex.digest)
            case ImageSource() if vertex.digest in self._unneeded:
                # Not unpacked unless a step needs it after all (a FROM of a stage only cache hits read).
                self._later.put(vertex.digest, partial(self._solve_image, vertex, op))
                self._events.emit(StepCached(vertex=vertex.digest, name=vertex.meta.name, at=time.time()))
                return Result(cache_key=vertex.digest)
            case ImageSource():
                return self._solve_image(vertex, op)
            case ContextSource():
                return self._solve_context(vertex, op)
            case InlineSource():
                return self._solve_inline(vertex, op)
            case HttpSource() | GitSource():
                return self._solve_remote(vertex, op)
            case Exec() | Copy() | Mkdir():
                return self._solve_step(vertex, inputs)
            case _:
                assert_never(op)

    def _solve_image(self, vertex: Vertex, op: ImageSource) -> Result:
        with step(self._events, vertex.digest, vertex.meta.name):
            try:
                image = self._store.images.resolve(op.ref, parse_platform(op.platform))
            except ImageNotFound:
                image = self._store.images.resolve(op.ref)  # another platform's, used as the frontend warned
            if image.manifest_digest != op.manifest_digest:
                raise SlipwayError(
                    f"{op.ref} changed in the store during the build ({op.manifest_digest} is gone)"
                )
            with self._store.lease():
                snapshot = self._held(self._store.snapshots.unpack_image(image))
        return Result(cache_key=vertex.digest, snapshot=snapshot)

    def _solve_context(self, vertex: Vertex, op: ContextSource) -> Result:
        matcher = IgnoreMatcher(op.exclude) if op.exclude else None
        tree = self._options.context_dir if op.name == "context" else dict(self._options.named_dirs)[op.name]
        return Result(
            cache_key=vertex.digest,
            tree=tree,
            is_excluded=matcher.matches if matcher else None,
            can_skip_dir=matcher.can_skip_dir if matcher else None,
            origin="context",
        )

    def _solve_inline(self, vertex: Vertex, op: InlineSource) -> Result:
        tree = self._work_dir / f"inline-{vertex.digest[7:19]}"
        tree.mkdir(parents=True, exist_ok=True)
        with Root(tree) as root:
            for name, content, mode in op.files:
                head, leaf = split_last(name)
                if not leaf:
                    raise ContextError(f"{vertex.meta.name}: {name!r} is not a file name")
                parent = root.make_dirs(head)
                try:
                    fd = os.open(
                        leaf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600, dir_fd=parent
                    )
                finally:
                    os.close(parent)
                with open(fd, "w", encoding="utf-8") as out:
                    out.write(content)
                    os.fchmod(out.fileno(), mode)
        return Result(cache_key=vertex.digest, tree=tree, origin="inline")

    def _solve_remote(self, vertex: Vertex, op: HttpSource | GitSource) -> Result:
        from slipway.session.ssh import DEFAULT_SSH_ID
        from slipway.worker import sources  # downloads are rare: import httpx only when needed
        from slipway.worker.git import check_out

        tree = self._work_dir / f"remote-{vertex.digest[7:19]}"
        tree.mkdir(parents=True, exist_ok=True)
        known = self._validators.get(vertex.digest) if self._may_use_cache(vertex) else None
        with step(self._events, vertex.digest, vertex.meta.name):
            if (
                isinstance(op, HttpSource)
                and known
                and sources.is_unchanged(op.url, known.etag, known.last_modified)
            ):
                # As BuildKit's HTTP source: the server says it is what it was; downloaded only if a step needs it.
                fetch = partial(_downloaded_tree, op, tree)
                return Result(cache_key=known.content_key, origin="remote", fetch=fetch)
            download = None
            if isinstance(op, HttpSource):
                download = sources.download(op, tree)
                content = hash_selection(tree, [""], cache=self._hashes)
            else:  # a checkout is its commit (a kept .git differs from one fetch to the next)
                agent = self._options.session.agents.get(DEFAULT_SSH_ID)  # as BuildKit's llb.Git for ssh URLs
                content = check_out(op, tree, vertex.meta.name or f"ADD {op.url}", ssh_agent=agent).commit
        key = combine("remote", vertex.digest, [content])
        if download is not None and (download.etag or download.last_modified):
            self._validators.put(vertex.digest, Validator(download.etag, download.last_modified, key))
        return Result(cache_key=key, tree=tree, origin="remote")

    # -- steps that make a snapshot ------------------------------------------------------------------

    def _planned_result(
        self, vertex: Vertex, inputs: tuple[Result | None, ...]
    ) -> tuple[Result | None, bool]:
        """What solving `vertex` will yield, as far as its cache key goes (None: not known before it runs), and
        whether the cache holds its result: the planning of solver/lazy.py."""
        op = vertex.op
        if isinstance(op, ScratchSource | ImageSource):
            return Result(cache_key=vertex.digest), False
        if isinstance(op, ContextSource):
            return self._solve_context(vertex, op), False
        if isinstance(op, InlineSource):
            return self._solve_inline(vertex, op), False
        if isinstance(op, HttpSource | GitSource) or any(result is None for result in inputs):
            return None, False  # a download's key is its content
        known = cast(tuple[Result, ...], inputs)
        key = self._cache_key(vertex, known)
        if self._may_use_cache(vertex):
            if self._store.cache.lookup(key) is not None or (
                self._remote_cache is not None and self._remote_cache.has(key)
            ):
                return Result(cache_key=key), True
            if self._content_mounts(vertex, known):
                return None, False  # it may hit by content, known only once its inputs are made
        return Result(cache_key=key), False

    def _solve_step(self, vertex: Vertex, inputs: tuple[Result, ...]) -> Result:
        key = self._planned.get(vertex.digest) or self._cache_key(vertex, inputs)
        name = vertex.meta.name
        if isinstance(vertex.op, Exec):
            try:
                check_required(vertex.op, self._options.session, vertex.meta.location)
            except SecretError:
                with step(self._events, vertex.digest, name):  # shown as the step's failure
                    raise
        content_key = None
        if self._may_use_cache(vertex):
            with self._store.lease():
                cached = self._held(self._store.cache.lookup(key))
            if cached is None and (content_key := self._content_key(vertex, inputs)) is not None:
                with self._store.lease():
                    cached = self._held(self._store.cache.lookup(content_key))
            if cached is not None:
                self._events.emit(StepCached(vertex=vertex.digest, name=name, at=time.time()))
                return Result(cache_key=content_key or key, snapshot=cached)
            if self._remote_cache is not None and self._remote_cache.has(key):
                # Deferred: a build stage whose COPY --from hits never needs its own layers fetched.
                self._deferred.add(key)
                self._events.emit(StepCached(vertex=vertex.digest, name=name, at=time.time()))
                return Result(cache_key=key)
            if vertex.digest in self._unneeded:
                # Only steps the cache answers read it: run only if asked for after all.
                self._later.put(
                    key, lambda: Result(cache_key=key, snapshot=self._run_recorded(vertex, inputs, key))
                )
                self._events.emit(StepCached(vertex=vertex.digest, name=name, at=time.time()))
                return Result(cache_key=key)
        snapshot = self._run_recorded(vertex, inputs, key)
        if content_key is not None:
            # The steps after this one key on its content key: a rebuild that hits by content keeps them.
            self._store.cache.record(content_key, snapshot.id)
            key = content_key
        return Result(cache_key=key, snapshot=snapshot)

    def _run_recorded(self, vertex: Vertex, inputs: tuple[Result, ...], key: str) -> SnapshotRecord:
        """Run the step (its inputs made first) and record its snapshot as `key`; its errors in the user's terms."""
        name = vertex.meta.name
        try:
            with step(self._events, vertex.digest, name), naming_disk_full(self._store.root, name):
                snapshot = self._run_step(vertex, tuple(self.materialize(result) for result in inputs))
                self._store.cache.record(key, snapshot.id)
        except (RunFailed, SourceNotFound, ContextError, ArchiveError) as err:
            if isinstance(err, RunFailed) and err.location is None:
                # A process that could not even start (no /bin/sh in the image): the RUN's line all the same.
                err.location, err.step = vertex.meta.location, err.step or vertex.meta.name
            if isinstance(err, SourceNotFound):
                # BuildKit's words, which finds it while it checksums the sources for the cache key.
                raise ContextError(
                    f"failed to compute cache key: failed to calculate checksum of ref {inputs[1].cache_key}: "
                    f'"{err.path}": not found',
                    vertex.meta.location,
                ) from err
            if isinstance(err, ContextError | ArchiveError) and vertex.meta.location is not None:
                # A missing COPY source (or USER, or a bad archive) is the Dockerfile line's fault as much as the
                # context's (or the image's): name both.
                raise type(err)(err.message, vertex.meta.location) from err
            raise
        return snapshot

    def _may_use_cache(self, vertex: Vertex) -> bool:
        if self._options.no_cache:
            return False
        return vertex.meta.stage.lower() not in self._options.no_cache_stages

    def _cache_key(self, vertex: Vertex, inputs: tuple[Result, ...]) -> str:
        op = vertex.op
        parts = [result.cache_key for result in inputs]
        if isinstance(op, Copy) and len(inputs) > 1 and _hashes_tree(inputs[1]):
            parts.append(self._tree_content(inputs[1], op.sources))
        if isinstance(op, Exec):
            for mount in op.mounts:
                if mount.input is not None and _hashes_tree(inputs[mount.input]):
                    parts.append(self._tree_content(inputs[mount.input], (mount.source,)))
        return combine(op.op_tag, vertex.digest, parts)

    def _content_key(self, vertex: Vertex, inputs: tuple[Result, ...]) -> str | None:
        """BuildKit's content-based cache of RUN's bind mounts of a stage or an image: the key with each such
        input replaced by the content of the path mounted from it. A mount has no output, so nothing else of
        its input can reach the step. Asked only when the plain key misses; None when no mount allows it."""
        mounted = self._content_mounts(vertex, inputs)
        if not mounted:
            return None
        parts = [result.cache_key for index, result in enumerate(inputs) if index not in mounted]
        for index, path in sorted(mounted.items()):
            parts.append(f"{index} {path} {self._mounted_content(inputs[index], path)}")
        return combine("exec-content", vertex.digest, parts)

    @staticmethod
    def _content_mounts(vertex: Vertex, inputs: tuple[Result, ...]) -> dict[int, str]:
        """The bind mounts a content key takes in (input index -> the path mounted): each of a stage or an
        image (no tree), the only use of its input."""
        op = vertex.op
        if not isinstance(op, Exec):
            return {}
        uses = Counter(mount.input for mount in op.mounts if mount.input)
        return {
            mount.input: mount.source
            for mount in op.mounts
            if mount.type == "bind"
            and mount.input
            and uses[mount.input] == 1
            and inputs[mount.input].tree is None
        }

    def _mounted_content(self, source: Result, path: str) -> str:
        """The content hash of `path` in `source`'s file system, resolved inside it as bind_source resolves a
        mount's source (a symlink on the way never leads out of it)."""
        with ExitStack() as mounts:
            view = self._source_view(self.materialize(source), self._step_dir() / "content", mounts)
            with Root(view) as root:
                try:
                    fd, name, parts = root.walk(path, follow_last=True)
                except OSError:
                    return "missing"
                os.close(fd)
            resolved = "/".join((*parts, name))
            # A throwaway file-hash cache: the view's device number is this mount's only.
            return hash_selection(view, [resolved], cache=FileHashCache(), patterns=False)

    def _tree_content(self, source: Result, paths: tuple[str, ...]) -> str:
        assert source.tree is not None
        return hash_selection(
            source.tree,
            paths,
            cache=self._hashes,
            is_excluded=source.is_excluded,
            can_skip_dir=source.can_skip_dir,
        )

    def _run_step(self, vertex: Vertex, inputs: tuple[Result, ...]) -> SnapshotRecord:
        """prepare → mount the plan → run → unmount → commit; the new snapshot is removed on any failure."""
        log.debug("step %s: running", vertex.meta.name)
        if isinstance(vertex.op, Exec) and vertex.op.platform is not None:
            _check_emulation(vertex, vertex.op.platform)
        parent = inputs[0].snapshot
        snapshots = self._store.snapshots
        step_dir = self._step_dir()
        key = f"{self._work_dir.name}/{step_dir.name}"  # unique among this open store's active snapshots
        with ExitStack() as cleanup:
            plan = snapshots.prepare(key, parent.id if parent else None, _prepare_mode(vertex.op))
            cleanup.callback(snapshots.remove, key)  # a no-op once committed
            with ExitStack() as mounts:  # unmounted before the commit
                rootfs = mounts.enter_context(mounted(plan, step_dir / "rootfs", ledger=self._store.leases))
                self._run_op(vertex, inputs, rootfs, step_dir, mounts)
            log.debug("step %s: done, committing", vertex.meta.name)
            return snapshots.commit(key, hold=self._hold)  # the build's, until it ends
        raise AssertionError("unreachable")  # ExitStack may swallow exceptions as far as mypy knows

    def _run_op(
        self, vertex: Vertex, inputs: tuple[Result, ...], rootfs: Path, step_dir: Path, mounts: ExitStack
    ) -> None:
        op = vertex.op
        if isinstance(op, Exec):
            self._run_exec(vertex, op, inputs, rootfs, step_dir, mounts)
        elif isinstance(op, Copy):
            source_root = self._source_view(inputs[1], step_dir / "source", mounts)
            copy_files(
                op,
                source_root,
                rootfs,
                is_excluded=inputs[1].is_excluded,
                exclude=IgnoreMatcher(op.exclude).matches if op.exclude else None,
                preserve_owner=inputs[1].origin == "fs",
                remote=inputs[1].origin == "remote",
                from_context=inputs[1].origin == "context",
            )
        elif isinstance(op, Mkdir):
            make_directory(op, rootfs)

    def _step_dir(self) -> Path:
        with self._counter_lock:
            self._counter += 1
            number = self._counter
        path = self._work_dir / f"step-{number}"
        path.mkdir(parents=True)
        return path

    def _source_view(self, source: Result, target: Path, mounts: ExitStack) -> Path:
        """A read-only view of a Copy's source: the tree itself, or a mount of the snapshot chain."""
        if source.tree is not None:
            return source.tree
        plan = self._store.snapshots.view(source.snapshot.id if source.snapshot else None)
        return mounts.enter_context(mounted(plan, target, ledger=self._store.leases))

    def _run_exec(
        self,
        vertex: Vertex,
        op: Exec,
        inputs: tuple[Result, ...],
        rootfs: Path,
        step_dir: Path,
        mounts: ExitStack,
    ) -> None:
        # --no-cache (and --no-cache-filter) start the step's cache mounts empty too, as BuildKit does.
        fresh_caches = not self._may_use_cache(vertex)
        binds, tmpfs = self._run_mounts(op.mounts, inputs, step_dir, mounts, fresh_caches=fresh_caches)
        session = session_mounts(op, self._options.session, step_dir, mounts, self._store.leases)
        network = self._options.default_network if op.network == "default" else op.network
        spec = ContainerSpec(
            process=ProcessSpec(
                args=op.args, env=with_variables(op.process_env, session.env), cwd=op.cwd or "/", user=op.user
            ),
            rootfs=rootfs,
            network=network,
            hostname=op.hostname or "buildkitsandbox",
            mounts=binds + session.binds,
            tmpfs=tmpfs,
            insecure=op.security == "insecure",
            bundle_dir=session.private_dir,
            limits=op.limits or RunLimits(),
        )
        tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        partial = bytearray()

        def on_output(stream: int, data: bytes) -> None:
            self._events.emit(StepLog(vertex=vertex.digest, stream=stream, data=data, at=time.time()))
            partial.extend(data)
            *lines, rest = partial.split(b"\n")
            tail.extend(line.decode(errors="replace") for line in lines)
            partial[:] = rest
            if len(partial) >= MAX_OUTPUT_LINE_BYTES:  # a line without end is kept in pieces, not whole
                tail.append(partial.decode(errors="replace"))
                partial.clear()

        with self._run_slots:
            if self._cancelled.is_set():
                raise BuildCancelled("build cancelled")
            exit_code = self._executor.run(spec, on_output=on_output)
        if partial:
            tail.append(partial.decode(errors="replace"))
        if exit_code != 0:
            if self._cancelled.is_set():
                raise BuildCancelled("build cancelled")
            if is_full(self._store.root):
                # The process met ENOSPC writing its layer (or a cache mount): the cause, not its exit code.
                last = tail[-1][:_SHOWN_LINE] if tail else ""
                raise no_space(
                    self._store.root,
                    f"{vertex.meta.name}: its process exited with code {exit_code} ({last!r})",
                )
            raise RunFailed(
                f'process "{" ".join(op.args)}" did not complete successfully: exit code: {exit_code}',
                argv=op.args,
                exit_code=exit_code,
                output_tail=tuple(tail),
                location=vertex.meta.location,
                step=vertex.meta.name,
            )

    def _run_mounts(
        self,
        run_mounts: tuple[RunMount, ...],
        inputs: tuple[Result, ...],
        step_dir: Path,
        mounts: ExitStack,
        *,
        fresh_caches: bool,
    ) -> tuple[tuple[BindMount, ...], tuple[TmpfsMount, ...]]:
        binds: list[BindMount] = []
        tmpfs: list[TmpfsMount] = []
        for index, mount in enumerate(run_mounts):
            if mount.type == "tmpfs":
                tmpfs.append(TmpfsMount(mount.target, mount.size))
            elif mount.type == "cache":
                binds.append(
                    BindMount(
                        source=self._cache_mount_dir(mount, fresh=fresh_caches),
                        target=mount.target,
                        readonly=False,
                    )
                )
            elif mount.type == "bind":
                source = inputs[mount.input] if mount.input is not None else inputs[0]
                view = self._source_view(source, step_dir / f"mount-{index}", mounts)
                layers = step_dir / f"bind-{index}"
                layers.mkdir()
                from slipway.worker.bind_sources import bind_source  # a bind mount's: imported by its users

                path = mounts.enter_context(
                    bind_source(
                        view,
                        mount.source,
                        layers,
                        ledger=self._store.leases,
                        is_excluded=source.is_excluded,
                        can_skip_dir=source.can_skip_dir,
                        writable=not mount.readonly,
                    )
                )
                binds.append(BindMount(source=path, target=mount.target, readonly=mount.readonly))
            # secret and ssh mounts: session_mounts
        return tuple(binds), tuple(tmpfs)

    def _cache_mount_dir(self, mount: RunMount, *, fresh: bool) -> Path:
        """The cache mount's directory; with `fresh`, emptied the first time this build uses it: the build's
        steps see what it writes there, and so do the builds after it."""
        name = hashlib.sha256((mount.id or mount.target).encode()).hexdigest()[:32]
        path = self._store.root / "cache-mounts" / name
        with self._counter_lock:
            if fresh and name not in self._emptied_caches:
                self._emptied_caches.add(name)
                with suppress(FileNotFoundError):  # moved into the work dir, which the build removes
                    path.rename(self._work_dir / f"discarded-cache-{name}")
        path.mkdir(parents=True, exist_ok=True)
        if mount.mode is not None:
            path.chmod(mount.mode)
        if mount.uid is not None or mount.gid is not None:
            os.chown(
                path, mount.uid if mount.uid is not None else -1, mount.gid if mount.gid is not None else -1
            )
        return path


def _downloaded_tree(source: HttpSource, tree: Path) -> Path:
    """`tree`, with `source` downloaded into it."""
    from slipway.worker import sources

    sources.fetch_url(source, tree)
    return tree


def _check_emulation(vertex: Vertex, platform: str) -> None:
    """A RUN for another platform needs an emulator: without one it must fail here, naming what to install,
    never run the image's programs some other way."""
    from slipway.worker.emulation import check_runnable  # binfmt_misc: for the RUNs of other platforms only

    where = f"{vertex.meta.location}: " if vertex.meta.location else ""
    try:
        check_runnable(parse_platform(platform))
    except (PlatformNotRunnable, UsageError) as err:
        raise PlatformNotRunnable(f"{where}{vertex.meta.name}: {err}") from None
