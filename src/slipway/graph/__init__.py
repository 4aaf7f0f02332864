"""slipway.graph: see DESIGN.md."""
