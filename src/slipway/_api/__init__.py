"""The public Python API's implementation; callers import it from `slipway` (see slipway/__init__.py)."""
