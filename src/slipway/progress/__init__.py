"""slipway.progress: see DESIGN.md."""
