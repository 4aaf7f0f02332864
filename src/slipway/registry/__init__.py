"""slipway.registry: see DESIGN.md."""
