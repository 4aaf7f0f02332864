"""slipway.analysis: where an image's bytes are (`analyze`), what differs between two images (`diff`), and the
multi-stage advisor (`advise`). Reads images through the store, builds and runs through the public API; the
pictures (`report`) import their plotting library only when asked for."""

from slipway.analysis.analyze import ContentShare, ImageAnalysis, LayerSummary, PathSize, analyze

__all__ = ["ContentShare", "ImageAnalysis", "LayerSummary", "PathSize", "analyze"]
