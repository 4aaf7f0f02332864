"""The files a build's frontend reads from the host: the Dockerfile (or stdin's) and the .dockerignore.

Each is read with BuildKit's size cap (its frontend reads them with maxFileSize, containerd's 16 MiB gRPC
message limit), so `build -f` of a 2 GB file fails at once, naming the file, instead of reading it all into
memory. Bytes that are not UTF-8 are kept as surrogates, for the parser to point at.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Literal

__all__ = [
    "DEFAULT_DOCKERFILE",
    "MAX_FILE_BYTES",
    "ContextKind",
    "context_kind",
    "dockerfile_location",
    "dockerfile_path",
    "read_file",
    "read_limited",
    "read_stream",
]

MAX_FILE_BYTES = 16 * 1024 * 1024
DEFAULT_DOCKERFILE = "Dockerfile"
ContextKind = Literal["stdin", "git", "url", "directory"]  # what `slipway build CONTEXT` names


def dockerfile_location(option: str | None, context: str | Path) -> Path | None:
    """The Dockerfile `-f` names (None: CONTEXT/Dockerfile); not for `-f -`. docker resolves a relative -f
    against the working directory, then against the context; for a context from outside (stdin, a URL, git), a
    relative -f that is no host file names a file in the context once it is fetched."""
    if not option:
        return None
    path = Path(option)
    if path.is_absolute() or path.exists():
        return path if context_kind(str(context)) == "directory" else path.absolute()
    return Path(context) / option if context_kind(str(context)) == "directory" else path


def context_kind(text: str) -> ContextKind:
    """What the context argument of `slipway build` names, as docker build reads it: "stdin" (-), "git" (a git
    URL), "url" (another http(s) URL: a tar archive or a Dockerfile) or "directory"."""
    if text == "-":
        return "stdin"
    if ":" in text:  # every URL, git's scp-style user@host:path too; a local path rarely
        from slipway.frontend.git_url import is_git_url

        if is_git_url(text):
            return "git"
        if text.startswith(("http://", "https://")):
            return "url"
    return "directory"


def dockerfile_path(context: Path, dockerfile: Path | None) -> Path:
    """The Dockerfile a build reads: `dockerfile` (-f), else CONTEXT/Dockerfile. As BuildKit (moby/moby#10858), a
    file named `Dockerfile` that is not there is looked for as `dockerfile`, in the same directory."""
    path = dockerfile or context / DEFAULT_DOCKERFILE
    if path.name == DEFAULT_DOCKERFILE and not path.exists():
        lowercase = path.with_name(DEFAULT_DOCKERFILE.lower())
        if lowercase.is_file():
            return lowercase
    return path


def read_file(path: Path) -> str:
    """The text of `path`; ContextError when it holds more than MAX_FILE_BYTES (OSError when unreadable)."""
    with path.open("rb") as stream:
        return read_stream(stream, str(path))


def read_limited(path: Path) -> bytes | None:
    """The bytes of `path`, None when it holds more than MAX_FILE_BYTES: for the build memo, which imports
    only the standard library and leaves the error to the build (OSError when unreadable)."""
    with path.open("rb") as stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    return data if len(data) <= MAX_FILE_BYTES else None


def read_stream(stream: BinaryIO, name: str) -> str:
    """The text of `stream` (read to its end), named `name` in the error when it is too large."""
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        from slipway.errors import ContextError  # only then: the build memo imports this module

        raise ContextError(
            f"{name} exceeds the maximum allowed size of {MAX_FILE_BYTES:,} bytes (16 MiB, as in BuildKit)"
        )
    return data.decode("utf-8", errors="surrogateescape")
