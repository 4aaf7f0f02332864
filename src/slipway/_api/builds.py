"""`slipway.build`: `slipway build`'s flags as keyword arguments, a typed result instead of printed lines.

The keywords are the flag table's names (cli/_build_flags.py), with Python's types where the command line has
text: `build_args` and `labels` are mappings, `pull` is the pull policy itself. What only a terminal needs is
left out (-q, --iidfile: the result holds the ID), and so is the environment: SOURCE_DATE_EPOCH and
SLIPWAY_PULL_POLICY are the command line's to read, here they are the `source_date_epoch` and `pull` keywords.
tests/unit/test_public_api.py holds the keywords to the table.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from slipway._api.registries import registry_options
from slipway._api.stores import Image, Store, image_of, opened, runtime_for
from slipway.choices import NetworkMode, ProgressMode, PullPolicy
from slipway.image.oci import Digest

if TYPE_CHECKING:
    from slipway.export.specs import OutputSpec
    from slipway.pipeline import BuildRequest
    from slipway.session.secrets import SecretSource
    from slipway.session.ssh import SshSource
    from slipway.store import Store as StoreRoom

__all__ = ["BuildResult", "build"]


@dataclass(frozen=True, slots=True)
class BuildResult:
    image: Image | None  # None when the output makes no image (type=local, type=tar)
    names: tuple[str, ...] = ()  # the names it now carries in the store, of those asked for
    pushed: tuple[tuple[str, Digest], ...] = ()  # (name, manifest digest) of each push

    @property
    def image_id(self) -> Digest | None:
        return self.image.id if self.image is not None else None

    @property
    def size(self) -> int | None:
        """The image's unpacked size in bytes, the SIZE of `slipway images`."""
        return self.image.size if self.image is not None else None


def build(
    context: str | os.PathLike[str] = ".",
    *,
    tags: Sequence[str] = (),
    dockerfile: str | os.PathLike[str] | None = None,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    no_cache: bool = False,
    no_cache_filter: Sequence[str] = (),
    network: NetworkMode = "default",
    platform: str | None = None,
    progress: ProgressMode = "quiet",
    max_parallelism: int | None = None,
    compression: Literal["gzip", "zstd"] | None = None,
    pull: PullPolicy = "missing",
    insecure_registries: Sequence[str] = (),
    output: str | Sequence[str] = (),
    push: bool = False,
    allow: Sequence[str] = (),
    cache_to: Sequence[str] = (),
    cache_from: Sequence[str] = (),
    secrets: Sequence[str] = (),
    ssh: Sequence[str] = (),
    add_hosts: Sequence[str] = (),
    shm_size: str | None = None,
    ulimits: Sequence[str] = (),
    annotations: Sequence[str] = (),
    build_contexts: Sequence[str] = (),
    source_date_epoch: int | None = None,
    store: Store | None = None,
) -> BuildResult:
    """As `slipway build`, into `store` (default: the default root's); `progress` draws on stderr. `context` is
    what `slipway build` takes (a directory, "-" for stdin, a URL, a git URL); `output`, `cache_to`,
    `cache_from`, `secrets`, `ssh`, `add_hosts`, `shm_size`, `ulimits`, `annotations`, `build_contexts` take the
    flags' text; `platform` None is this machine's. A failing RUN raises errors.RunFailed."""
    from slipway.contexts import context_argument
    from slipway.export.specs import parse_annotations, parse_cache_from, parse_cache_to
    from slipway.frontend.files import dockerfile_location
    from slipway.graph.run_limits import read_run_limits
    from slipway.pipeline import BuildRequest

    where = os.fspath(context)
    lent_secrets, lent_ssh = _lent(secrets, ssh)
    with opened(store) as room:
        request = BuildRequest(
            context=context_argument(where, sys.stdin.buffer),
            dockerfile=dockerfile_location(os.fspath(dockerfile) if dockerfile else None, where),
            tags=tuple(tags),
            target=target,
            build_args=tuple((build_args or {}).items()),
            labels=tuple((labels or {}).items()),
            no_cache=no_cache,
            no_cache_filter=tuple(no_cache_filter),
            network=network,
            platform=platform,
            source_date_epoch=source_date_epoch,
            compression=compression,
            max_parallelism=max_parallelism,
            pull=pull,
            registry=registry_options(room.root, insecure_registries),
            outputs=_outputs(output, push),
            cache_to=tuple(parse_cache_to(text) for text in cache_to),
            cache_from=tuple(parse_cache_from(text) for text in cache_from),
            allow=tuple(allow),
            secrets=lent_secrets,
            ssh=lent_ssh,
            run_limits=read_run_limits(add_hosts, shm_size, ulimits),
            annotations=parse_annotations(annotations),
            build_contexts=tuple(build_contexts),
        )
        return _build(request, room, progress)


def _outputs(output: str | Sequence[str], push: bool) -> tuple[OutputSpec, ...]:
    """`output`: one --output's text, or several."""
    from slipway.export.specs import build_outputs, parse_output

    texts = [output] if isinstance(output, str) else list(output)
    return build_outputs([parse_output(text) for text in texts], push=push)


def _lent(
    secrets: Sequence[str], ssh: Sequence[str]
) -> tuple[tuple[SecretSource, ...], tuple[SshSource, ...]]:
    """--secret and --ssh as `slipway build` reads them (an env= secret names this process's variable)."""
    from slipway.session.secrets import parse_secret
    from slipway.session.ssh import parse_ssh

    return tuple(parse_secret(text, os.environ) for text in secrets), tuple(
        parse_ssh(text, os.environ) for text in ssh
    )


def _build(request: BuildRequest, room: StoreRoom, progress: ProgressMode) -> BuildResult:
    """The pipeline (imported only now: it loads every room) with its progress drawn as asked."""
    from slipway.pipeline import build as run_pipeline
    from slipway.progress.render import open_renderer

    with open_renderer(progress, sys.stderr) as events:
        outcome = run_pipeline(
            request, store=room, runtime=runtime_for(room.root), events=events, stdout=sys.stdout.buffer
        )
    image = image_of(outcome.image) if outcome.image is not None else None
    return BuildResult(image=image, names=outcome.names, pushed=outcome.pushed)
