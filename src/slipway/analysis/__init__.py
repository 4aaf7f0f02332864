"""slipway.analysis: where an image's bytes are (`analyze`), what differs between two images (`diff`), and the
multi-stage advisor (`advise`). Reads images through the store, builds and runs through the public API; the
pictures (`report`) import their plotting library only when asked for.

Names load on first use (PEP 562): every build imports analysis/summary.py for the lines it prints after the
build, which needs the content table only, not the layer reader and waste measure behind `analyze`.
"""

from typing import TYPE_CHECKING

from slipway._lazy import lazy_attributes

if TYPE_CHECKING:
    from slipway.analysis._analyze import ContentShare, ImageAnalysis, LayerSummary, PathSize, analyze

__all__ = ["ContentShare", "ImageAnalysis", "LayerSummary", "PathSize", "analyze"]

__getattr__ = lazy_attributes(__name__, {name: "slipway.analysis._analyze" for name in __all__})
