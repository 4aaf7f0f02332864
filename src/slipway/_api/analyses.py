"""`slipway.analyze`, `diff` and `advise`: slipway.analysis on a public Store (default: the default root's)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from slipway._api.stores import Store, opened, runtime_for
from slipway.choices import ProgressMode

if TYPE_CHECKING:
    from slipway.analysis import ImageAnalysis
    from slipway.analysis.advise import Advice
    from slipway.analysis.diff import ImageDiff

__all__ = ["advise", "analyze", "diff"]


def analyze(image: str, *, store: Store | None = None) -> ImageAnalysis:
    """Where the bytes of `image` are (as `slipway analyze`): layers, the largest paths, the content kinds,
    the wasted bytes (files a later layer removes or replaces), and an efficiency score."""
    from slipway.analysis import analyze as analyze_image

    with opened(store) as room:
        return analyze_image(room, image)


def diff(before: str, after: str, *, store: Store | None = None) -> ImageDiff:
    """What differs between two images (as `slipway diff`): files, directories, packages, sizes."""
    from slipway.analysis.diff import diff as compare

    with opened(store) as room:
        return compare(room, before, after)


def advise(
    context: str | os.PathLike[str] = ".",
    *,
    image: str | None = None,
    dockerfile: str | os.PathLike[str] | None = None,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    base: str = "scratch",
    verify: bool = False,
    verify_command: Sequence[str] = (),
    verify_timeout: float = 60.0,
    progress: ProgressMode = "quiet",
    store: Store | None = None,
) -> Advice:
    """A multi-stage rewrite of the Dockerfile in `context` (built first), or of the store's `image`, whose
    final stage keeps only what the program needs (as `slipway advise`). `verify`: build the rewrite and
    run both images (`verify_command`, default their own command) to compare what they print. A rewrite
    that cannot be made safely comes back declined, with the reason."""
    from slipway.analysis.advise import AdviceRequest
    from slipway.analysis.advise import advise as advise_image
    from slipway.frontend.files import dockerfile_location
    from slipway.progress.render import open_renderer

    directory = Path(context)
    request = AdviceRequest(
        context=directory,
        dockerfile=dockerfile_location(os.fspath(dockerfile) if dockerfile else None, directory),
        image=image,
        build_args=tuple((build_args or {}).items()),
        target=target,
        base=base,
        verify=verify,
        verify_command=tuple(verify_command),
        verify_timeout=verify_timeout,
    )
    with opened(store) as room, open_renderer(progress, sys.stderr) as events:
        return advise_image(request, store=room, runtime=runtime_for(room.root), events=events)
