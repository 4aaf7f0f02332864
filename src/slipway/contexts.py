"""Build contexts that are not a local directory, made local for the build: as docker build reads its argument.

- `-` (StdinContext): stdin holds a tar archive, plain or compressed (gzip, zstd, bzip2, xz: sniffed), which is
  the context; or anything else, which is the Dockerfile, with an empty context.
- an http(s) URL (UrlContext): a tar archive (the context) or a Dockerfile (the context is empty, `-f` unused),
  as BuildKit's DetectHTTPContext.
- a git URL (GitContext, BuildKit's grammar: frontend/git_url.py): the checkout of its ref, or of its subdir.

Everything from outside is hostile: an archive is unpacked through the fd-based extraction (worker/_archive.py:
`../` never leaves, a symlink resolves inside), bounded in size, device nodes refused; the Dockerfile and
.dockerignore are read inside the unpacked tree (worker/rootpath.py), never through a symlink out of it. All of
it lives in a work directory of the store, removed when the build ends.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, assert_never

import msgspec

from slipway.errors import ContextError
from slipway.frontend.files import DEFAULT_DOCKERFILE, MAX_FILE_BYTES, context_kind
from slipway.frontend.git_url import GitUrlError, parse_git_url
from slipway.graph.ops import GitSource
from slipway.progress.events import EventSink, StepDone, StepFailed, StepStarted
from slipway.session.ssh import DEFAULT_SSH_ID, ssh_agents
from slipway.worker.rootpath import Root

if TYPE_CHECKING:
    from slipway.pipeline import BuildRequest
    from slipway.store import Store

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "Fetched",
    "Fetching",
    "GitContext",
    "LocalContext",
    "RemoteContext",
    "StdinContext",
    "UrlContext",
    "context_argument",
    "fetch_tree",
    "local_request",
    "made_local",
]

# What a context archive may hold, compressed and unpacked: far past real contexts, short of filling a disk.
MAX_ARCHIVE_BYTES = 8 << 30
_COPY_CHUNK = 1 << 20


class StdinContext(msgspec.Struct, frozen=True):
    """`slipway build -`: a tar archive (the context) or a Dockerfile (no context) on `stream`."""

    stream: BinaryIO


class UrlContext(msgspec.Struct, frozen=True):
    """An http(s) URL of a tar archive (the context) or of a Dockerfile (no context)."""

    url: str


class GitContext(msgspec.Struct, frozen=True):
    """A git repository URL (`https://host/repo.git#ref:subdir`)."""

    url: str


RemoteContext = StdinContext | UrlContext | GitContext


class LocalContext(msgspec.Struct, frozen=True):
    """A context made local: its directory, and the Dockerfile when it came with the context (else None: the
    request's own -f applies)."""

    directory: Path
    dockerfile_text: str | None = None
    dockerfile_name: str = DEFAULT_DOCKERFILE  # as shown in errors
    epoch: int | None = None  # its own date (SOURCE_DATE_EPOCH=context): a git commit's, a download's


class Fetched(msgspec.Struct, frozen=True):
    """What a fetch made: a checkout's tree or a downloaded file, and its date as BuildKit gives it."""

    path: Path
    epoch: int | None


def context_argument(text: str, stdin: BinaryIO) -> Path | RemoteContext:
    """What `slipway build TEXT` builds from: "-", a git URL, an http(s) URL, else a local directory."""
    match context_kind(text):
        case "stdin":
            return StdinContext(stdin)
        case "git":
            return GitContext(text)
        case "url":
            return UrlContext(text)
        case "directory":
            return Path(text)
        case unknown:
            assert_never(unknown)


@contextmanager
def local_request(request: BuildRequest, store: Store, events: EventSink) -> Iterator[BuildRequest]:
    """`request` with a local directory for its context and its --build-context values resolved: what comes
    from outside is fetched into the store's tmp/ and removed when the block ends."""
    if isinstance(request.context, Path) and not request.build_contexts:
        yield request
        return
    from slipway.named_contexts import resolve_named_contexts

    with ExitStack() as resources:
        work_dir = resources.enter_context(store.temp_dir("context"))
        # A git repository reached over SSH uses the agent lent as --ssh default, as an ADD of one does.
        agents = resources.enter_context(ssh_agents(request.ssh, work_dir)) if request.ssh else {}
        fetching = Fetching(work_dir, events, agents.get(DEFAULT_SSH_ID))
        if not isinstance(request.context, Path):
            piped = request.dockerfile_text is not None
            local = resources.enter_context(
                made_local(request.context, request.dockerfile, fetching, read_dockerfile=not piped)
            )
            text = request.dockerfile_text if piped else local.dockerfile_text
            dockerfile = request.dockerfile if text is None else None
            request = msgspec.structs.replace(
                request,
                context=local.directory,
                dockerfile=dockerfile,
                dockerfile_text=text,
                context_epoch=local.epoch,
            )
        named = resolve_named_contexts(request.build_contexts, store, fetching)
        yield msgspec.structs.replace(
            request, build_contexts=(), named_contexts=request.named_contexts + named
        )


class Fetching(msgspec.Struct, frozen=True):
    """Where and how a context from outside is fetched: into `work_dir` (the caller's, removed by it), its
    progress to `events`, a repository over SSH with the agent at `ssh_agent` (--ssh default)."""

    work_dir: Path
    events: EventSink
    ssh_agent: Path | None = None

    def under(self, name: str) -> Fetching:
        """The same, in a new directory `name` of the work directory."""
        (self.work_dir / name).mkdir()
        return msgspec.structs.replace(self, work_dir=self.work_dir / name)


@contextmanager
def made_local(
    context: RemoteContext, dockerfile: Path | None, fetching: Fetching, *, read_dockerfile: bool
) -> Iterator[LocalContext]:
    """`context` as a directory under the fetching's work directory, and with `read_dockerfile` its Dockerfile
    read inside it: `dockerfile` relative to the context (None: CONTEXT/Dockerfile); an absolute `dockerfile`
    is a host file, left to the caller."""
    with _fetch_step(
        fetching.events, "context-load", f"[internal] load remote build context {_shown(context)}"
    ):
        local = _fetch(context, fetching)
        _refuse_linked_ignore_files(local.directory)
        if (
            local.dockerfile_text is None
            and read_dockerfile
            and (dockerfile is None or not dockerfile.is_absolute())
        ):
            name = str(dockerfile) if dockerfile is not None else DEFAULT_DOCKERFILE
            text = _read_inside(local.directory, name)
            local = msgspec.structs.replace(local, dockerfile_text=text, dockerfile_name=name)
    yield local


def fetch_tree(context: UrlContext | GitContext, fetching: Fetching, step_name: str) -> Fetched:
    """A named context from outside (--build-context NAME=URL): a repository's checkout, or a directory that
    holds the download as the one file "context" (BuildKit's llb.HTTP with Filename("context"))."""
    with _fetch_step(fetching.events, f"context-{step_name}", step_name):
        if isinstance(context, GitContext):
            return _checked_out(context.url, fetching.work_dir / "git", fetching.ssh_agent)
        download = _downloaded(context.url, fetching.work_dir / "download")
        return Fetched(download.path.parent, download.epoch)


@contextmanager
def _fetch_step(events: EventSink, vertex: str, name: str) -> Iterator[None]:
    """A fetch shown as a step: started, then done or failed."""
    events.emit(StepStarted(vertex=vertex, name=name, at=time.time()))
    try:
        yield
    except BaseException as err:
        events.emit(StepFailed(vertex=vertex, error=str(err), at=time.time()))
        raise
    events.emit(StepDone(vertex=vertex, at=time.time()))


def _shown(context: RemoteContext) -> str:
    match context:
        case StdinContext():
            return "from stdin"
        case UrlContext(url) | GitContext(url):
            return url


def _fetch(context: RemoteContext, fetching: Fetching) -> LocalContext:
    work_dir = fetching.work_dir
    match context:
        case StdinContext(stream):
            spooled = work_dir / "context.input"
            _spool(stream, spooled, "the context on stdin")
            return _unpacked_or_dockerfile(spooled, work_dir / "context", "the context on stdin")
        case UrlContext(url):
            download = _downloaded(url, work_dir / "download")
            local = _unpacked_or_dockerfile(download.path, work_dir / "context", f"build context {url}")
            return msgspec.structs.replace(local, epoch=download.epoch)
        case GitContext(url):
            checkout = _checked_out(url, work_dir / "git", fetching.ssh_agent)
            return LocalContext(checkout.path, epoch=checkout.epoch)


def _downloaded(url: str, directory: Path) -> Fetched:
    """`url` downloaded as the file "context" of the new `directory`, bounded in size."""
    from slipway.graph.ops import HttpSource
    from slipway.worker.sources import download, download_epoch  # httpx: only for a URL context

    directory.mkdir()
    source = HttpSource(url=url, filename="context")
    downloaded = download(source, directory, what="build context", max_bytes=MAX_ARCHIVE_BYTES)
    return Fetched(downloaded.path, download_epoch(downloaded))


def _spool(stream: BinaryIO, target: Path, what: str) -> None:
    """Copy `stream` to `target`, up to MAX_ARCHIVE_BYTES."""
    written = 0
    with target.open("wb") as out:
        while chunk := stream.read(_COPY_CHUNK):
            written += len(chunk)
            if written > MAX_ARCHIVE_BYTES:
                raise ContextError(f"{what} is larger than {MAX_ARCHIVE_BYTES:,} bytes: refused")
            out.write(chunk)


def _unpacked_or_dockerfile(file: Path, directory: Path, what: str) -> LocalContext:
    """A tar archive (compressed or not) unpacked into `directory`; anything else is a Dockerfile."""
    from slipway.worker._archive import extract_archive, is_archive

    directory.mkdir()
    with file.open("rb") as raw:
        if is_archive(raw):
            with Root(directory) as root:
                extract_archive(raw, "", root, what=what, max_bytes=MAX_ARCHIVE_BYTES, devices=False)
            return LocalContext(directory)
        raw.seek(0)
        data = raw.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ContextError(
            f"{what} is neither a tar archive nor a Dockerfile (a Dockerfile is at most 16 MiB)"
        )
    return LocalContext(directory, data.decode("utf-8", errors="surrogateescape"))


def _refuse_linked_ignore_files(directory: Path) -> None:
    """The build reads .dockerignore by its host path: in a tree from outside it must not be a symlink."""
    with Root(directory) as root:
        for name in (".dockerignore", f"{DEFAULT_DOCKERFILE}.dockerignore"):
            info = root.lstat(name)
            if info is not None and not stat.S_ISREG(info.st_mode):
                raise ContextError(f"{name} in the build context is not a regular file: refused")


def _read_inside(directory: Path, name: str) -> str:
    """The Dockerfile `name` of an untrusted tree, resolved inside it, a regular file, read with the cap."""
    with Root(directory) as root:
        try:
            data = root.read(name, limit=MAX_FILE_BYTES)
        except FileNotFoundError:
            data = root.read(name.lower(), limit=MAX_FILE_BYTES) if name == DEFAULT_DOCKERFILE else None
    if data is None:
        raise ContextError(f"the build context has no Dockerfile {name!r}: name one with -f FILE")
    return data.decode("utf-8", errors="surrogateescape")


def _checked_out(url: str, tree: Path, ssh_agent: Path | None) -> Fetched:
    """The checkout of git URL `url` (of its subdir, resolved inside the checkout)."""
    from slipway.worker.git import check_out

    try:
        parsed = parse_git_url(url)
    except GitUrlError as err:
        raise ContextError(f"build context {url}: {err}") from None
    source = GitSource(
        url=parsed.remote,
        ref=parsed.ref,
        keep_git_dir=bool(parsed.keep_git_dir),
        submodules=parsed.submodules,
        checksum=parsed.checksum,
    )
    checkout = check_out(source, tree, f"build context {url}", ssh_agent=ssh_agent)
    if not parsed.subdir:
        return Fetched(tree, checkout.committed)
    with Root(tree) as root:
        if root.lstat(parsed.subdir) is None or not root.is_dir(parsed.subdir):
            raise ContextError(f"build context {url}: the repository has no directory {parsed.subdir!r}")
        if _has_symlink(root, parsed.subdir):
            raise ContextError(f"build context {url}: {parsed.subdir!r} goes through a symlink: refused")
    return Fetched(tree / parsed.subdir, checkout.committed)


def _has_symlink(root: Root, subdir: str) -> bool:
    parts = [part for part in subdir.split("/") if part]
    for end in range(1, len(parts) + 1):
        info = root.lstat("/".join(parts[:end]))
        if info is None or stat.S_ISLNK(info.st_mode):
            return True
    return False
