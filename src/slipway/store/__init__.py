"""slipway.store: see DESIGN.md."""
