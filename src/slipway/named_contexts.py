"""`--build-context NAME=VALUE`, as docker buildx passes it to BuildKit, resolved for one build.

    NAME=DIR                         a local directory (its .dockerignore applies)
    NAME=docker-image://REF          an image (pulled by the build's policy when FROM needs it); scratch too
    NAME=oci-layout://PATH[@DIGEST]  an image of an OCI layout directory, loaded into the store (unnamed)
    NAME=target:STAGE                another stage of the Dockerfile
    NAME=https://...                 a git repository (a git URL), else one downloaded file named "context"

Images are resolved lazily, by the converter, only for the stages the target needs (BuildKit's
testEagerNamedContextLookup); what must be fetched (an OCI layout, a URL, a repository) is fetched here, into
the build's work directory, before the Dockerfile is converted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from slipway.errors import ContextError, UsageError
from slipway.frontend.files import read_file
from slipway.frontend.git_url import is_git_url
from slipway.frontend.ignore import read_ignore_file
from slipway.frontend.named_contexts import NamedContext
from slipway.store import Store

if TYPE_CHECKING:
    from slipway.contexts import Fetched, Fetching

__all__ = ["resolve_named_contexts"]

_IMAGE = "docker-image://"
_OCI_LAYOUT = "oci-layout://"
_STAGE = "target:"


def resolve_named_contexts(
    specs: tuple[str, ...], store: Store, fetching: Fetching
) -> tuple[NamedContext, ...]:
    """Each `NAME=VALUE` as a NamedContext; a URL or repository fetched as `fetching` says."""
    resolved: list[NamedContext] = []
    for number, spec in enumerate(specs):
        name, separator, value = spec.partition("=")
        if not name or not separator or not value:
            raise UsageError(f"--build-context {spec!r}: expected NAME=VALUE")
        if any(known.name == name for known in resolved):
            raise UsageError(f"--build-context {name}: given twice")
        resolved.append(_resolve(name, value, store, fetching, number))
    return tuple(resolved)


def _resolve(name: str, value: str, store: Store, fetching: Fetching, number: int) -> NamedContext:
    if value.startswith(_IMAGE):
        reference = value.removeprefix(_IMAGE)
        if reference == "scratch":
            return NamedContext(name, "scratch")
        return NamedContext(name, "image", reference)
    if value.startswith(_OCI_LAYOUT):
        return NamedContext(name, "image", _load_layout(name, value.removeprefix(_OCI_LAYOUT), store))
    if value.startswith(_STAGE):
        return NamedContext(name, "stage", value.removeprefix(_STAGE))
    if is_git_url(value) or value.startswith(("http://", "https://")):
        fetched = _fetched(name, value, fetching.under(f"named-{number}"))
        return NamedContext(name, "directory", str(fetched.path), epoch=fetched.epoch)
    if "://" in value:
        raise UsageError(
            f"--build-context {name}={value}: unsupported context source {value.split('://')[0]!r}"
        )
    return _local_directory(name, Path(value))


def _local_directory(name: str, directory: Path) -> NamedContext:
    if not directory.is_dir():
        raise ContextError(f"--build-context {name}={directory}: not a directory")
    ignore_file = directory / ".dockerignore"
    exclude = read_ignore_file(read_file(ignore_file)) if ignore_file.is_file() else ()
    return NamedContext(name, "directory", str(directory.resolve()), exclude)


def _fetched(name: str, url: str, fetching: Fetching) -> Fetched:
    """A repository's checkout, or (as BuildKit's llb.HTTP with Filename("context")) the download alone."""
    from slipway.contexts import GitContext, UrlContext, fetch_tree

    source = GitContext(url) if is_git_url(url) else UrlContext(url)
    return fetch_tree(source, fetching, f"[context {name}] {url}")


def _load_layout(name: str, text: str, store: Store) -> str:
    """The ID of the image `PATH@DIGEST` names in an OCI layout directory, loaded into the store."""
    from slipway.export.oci_layout import load_layout_image

    path, _, digest = text.rpartition("@") if "@sha256:" in text else (text, "", "")
    directory = Path(path)
    if not (directory / "index.json").is_file():
        raise ContextError(
            f"--build-context {name}=oci-layout://{text}: {path} is not an OCI layout directory"
        )
    return load_layout_image(store, directory, digest or None).id
