"""A parsed Dockerfile to the build graph, by BuildKit's dockerfile2llb rules.

`convert(dockerfile, options, resolver)` types the instructions, splits the stages, picks the target and
dispatches only the stages the target needs (through FROM <stage>, COPY --from and RUN --mount from=),
each on demand: a stage nobody needs is never dispatched, so its base image is never even resolved.
One `_dispatch_*` per instruction applies it to the stage's state: file-system steps become vertices
(Exec, Copy, Mkdir), the rest edit the stage's image config; every instruction adds BuildKit's history
entry. Base images come from the resolver passed in; nothing here reads a disk or the network.
"""

from __future__ import annotations

from slipway.frontend.convert.converter import convert
from slipway.frontend.convert.options import BaseImage, ConvertOptions, ImageResolver

__all__ = ["BaseImage", "ConvertOptions", "ImageResolver", "convert"]
