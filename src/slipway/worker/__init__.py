"""slipway.worker: see DESIGN.md."""
