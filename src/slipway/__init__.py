"""slipway: a daemonless container image builder."""

__version__ = "0.1.0"
