"""Errors a user can cause or fix. A bug is not one of these: it keeps its traceback.

SlipwayError                      str(err) is the whole message; the CLI prints it, exits err.exit_code;
│                                 an error with a place in a Dockerfile carries it (err.location)
├── UsageError                    a flag or argument is wrong (exit 2)
├── DockerfileError               the Dockerfile is wrong; carries a SourceLocation
│   ├── DockerfileSyntaxError     it does not parse
│   ├── ExpansionError            ${VAR?msg}, bad substitution, unterminated quote
│   └── StageNotFound             --target, FROM or COPY --from names no stage
├── ContextError                  the build context or a COPY source is wrong
│   └── SourceNotFound            a COPY/ADD source is not in the tree it copies from
├── UnreadableFile                a file of an image or context that slipway will not read on the host
│   ├── NotRegularFile            a device, FIFO, socket or directory where a file was expected
│   └── FileTooLarge              larger than the cap slipway reads such a file up to
├── ImageNotFound                 no such image in the store
├── ImageInUse                    rmi of an image another one needs
├── InvalidReference              an image reference that does not parse
├── StoreError                    the store refuses an operation
│   ├── BlobNotFound
│   ├── DigestMismatch            content does not match its digest
│   ├── DiskFull                  no space left on the store's file system (ENOSPC, EDQUOT)
│   └── StoreDamaged              meta.db or a record in it cannot be read
├── ArchiveError                  a tar/archive/manifest from outside is bad or malicious
├── ExportError                   a build output or cache destination (--output, --cache-to) cannot be written
├── RuntimeNotFound               no usable OCI runtime
├── RootlessError                 a rootless slipway cannot set up its user namespace (no subuid range, ...)
├── PlatformNotRunnable           a RUN or `slipway run` for a platform this machine cannot execute (no emulator)
├── MountError                    an overlay or bind mount failed (not root, no overlayfs, too many layers)
├── RunFailed                     a RUN or `slipway run` process failed; holds argv, exit code, output
├── SecretError                   a --secret or --ssh cannot be read or used, or a RUN requires one not given
├── RegistryError                 a registry refused or failed a request
│   └── AuthenticationError
└── BuildCancelled                Ctrl-C (exit 130)
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

__all__ = [
    "ArchiveError",
    "AuthenticationError",
    "BlobNotFound",
    "BuildCancelled",
    "ContextError",
    "DigestMismatch",
    "DiskFull",
    "DockerfileError",
    "DockerfileSyntaxError",
    "ExpansionError",
    "ExportError",
    "FileTooLarge",
    "ImageInUse",
    "ImageNotFound",
    "InvalidReference",
    "MountError",
    "NotRegularFile",
    "RegistryError",
    "RunFailed",
    "RuntimeNotFound",
    "SlipwayError",
    "SourceLocation",
    "SourceNotFound",
    "StageNotFound",
    "StoreDamaged",
    "StoreError",
    "UnreadableFile",
    "UsageError",
]


class SourceLocation(msgspec.Struct, frozen=True):
    """Where in a Dockerfile something was written (1-based lines, inclusive)."""

    path: str
    line: int
    end_line: int

    def __str__(self) -> str:
        if self.end_line != self.line:
            return f"{self.path}:{self.line}-{self.end_line}"
        return f"{self.path}:{self.line}"


class SlipwayError(Exception):
    """`message` is what went wrong; `location`, when the error has a place in a Dockerfile, where (str(err)
    then starts with it, and `slipway build` shows the Dockerfile's lines there)."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str = "", location: SourceLocation | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class UsageError(SlipwayError):
    exit_code: ClassVar[int] = 2


class DockerfileError(SlipwayError):
    """An error in a Dockerfile. The message is prefixed with the file and line."""


class DockerfileSyntaxError(DockerfileError):
    pass


class ExpansionError(DockerfileError):
    pass


class StageNotFound(DockerfileError):
    pass


class ContextError(SlipwayError):
    pass


class UnreadableFile(SlipwayError):
    pass


class NotRegularFile(UnreadableFile):
    pass


class FileTooLarge(UnreadableFile):
    pass


class SourceNotFound(ContextError):
    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path  # "/missing/file", as BuildKit quotes it


class ImageNotFound(SlipwayError):
    pass


class ImageInUse(SlipwayError):
    pass


class InvalidReference(SlipwayError):
    pass


class StoreError(SlipwayError):
    pass


class BlobNotFound(StoreError):
    pass


class DigestMismatch(StoreError):
    pass


class DiskFull(StoreError):
    pass


class StoreDamaged(StoreError):
    pass


class ArchiveError(SlipwayError):
    pass


class ExportError(SlipwayError):
    pass


class RuntimeNotFound(SlipwayError):
    pass


class RootlessError(SlipwayError):
    pass


class PlatformNotRunnable(SlipwayError):
    pass


class MountError(SlipwayError):
    pass


class RunFailed(SlipwayError):
    """A process in a container exited non-zero (or could not start)."""

    def __init__(
        self,
        message: str,
        *,
        argv: tuple[str, ...] = (),
        exit_code: int | None = None,
        output_tail: tuple[str, ...] = (),
        location: SourceLocation | None = None,
        step: str = "",
    ) -> None:
        super().__init__(message)
        self.argv = argv
        self.step = step  # the step's name in progress output, "[build 4/4] RUN go build ..."
        self.process_exit_code = exit_code
        self.output_tail = output_tail
        self.location = location  # not in str(err): the error print draws the Dockerfile excerpt


class SecretError(SlipwayError):
    pass


class RegistryError(SlipwayError):
    pass


class AuthenticationError(RegistryError):
    pass


class BuildCancelled(SlipwayError):
    exit_code: ClassVar[int] = 130
