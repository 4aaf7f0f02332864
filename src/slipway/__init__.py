"""slipway: a daemonless container image builder, as a Python library.

    import slipway

    with slipway.Store.open() as store:            # the root `slipway` uses: $SLIPWAY_ROOT, /var/lib/slipway
        built = slipway.build("examples/seed", dockerfile="multiStageFromScratch", tags=["hello:v2"], store=store)
        ran = slipway.run("hello:v2", capture_output=True, store=store)

- `build(context, **flags)`: `slipway build`, its flags as keywords; a `BuildResult` (image, names, size).
- `run(image, command)`: `slipway run --rm`; a `RunResult` (exit code, captured output).
- `pull(name)`, `push(name)`: an `Image`, a manifest digest.
- `Store.open(root)`: the images under a root; `Image`: a read-only view (id, names, size, config, layers,
  history), its OCI types `ImageConfig`, `ContainerConfig`, `History` and its `Layer`s.
- `analyze(image)`, `diff(before, after)`, `advise(context)`: `ImageAnalysis`, `ImageDiff`, `Advice`.
- `errors`: every error a user can cause is a `SlipwayError` (errors.py draws the tree).

Every verb takes `store=` (an open Store), or opens the default root for the call. Importing slipway loads
nothing else: each name is imported on first use, as the command line's start-up depends on it.
"""

from typing import TYPE_CHECKING

from slipway._lazy import lazy_attributes

__version__ = "0.1.0"

if TYPE_CHECKING:
    from slipway import errors as errors
    from slipway._api.analyses import advise, analyze, diff
    from slipway._api.builds import BuildResult, build
    from slipway._api.containers import RunResult, run
    from slipway._api.registries import pull, push
    from slipway._api.stores import Image, Layer, Store
    from slipway.analysis import ImageAnalysis
    from slipway.analysis.advise import Advice
    from slipway.analysis.diff import ImageDiff
    from slipway.errors import SlipwayError
    from slipway.image.oci import ContainerConfig, History, ImageConfig

__all__ = [
    "Advice",
    "BuildResult",
    "ContainerConfig",
    "History",
    "Image",
    "ImageAnalysis",
    "ImageConfig",
    "ImageDiff",
    "Layer",
    "RunResult",
    "SlipwayError",
    "Store",
    "advise",
    "analyze",
    "build",
    "diff",
    "errors",
    "pull",
    "push",
    "run",
]

_LAZY = {
    "advise": "slipway._api.analyses",
    "analyze": "slipway._api.analyses",
    "diff": "slipway._api.analyses",
    "BuildResult": "slipway._api.builds",
    "build": "slipway._api.builds",
    "RunResult": "slipway._api.containers",
    "run": "slipway._api.containers",
    "pull": "slipway._api.registries",
    "push": "slipway._api.registries",
    "Image": "slipway._api.stores",
    "Layer": "slipway._api.stores",
    "Store": "slipway._api.stores",
    "Advice": "slipway.analysis.advise",
    "ImageAnalysis": "slipway.analysis",
    "ImageDiff": "slipway.analysis.diff",
    "errors": "slipway.errors",
    "SlipwayError": "slipway.errors",
    "ContainerConfig": "slipway.image.oci",
    "History": "slipway.image.oci",
    "ImageConfig": "slipway.image.oci",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
