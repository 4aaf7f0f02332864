"""slipway.runner: see DESIGN.md."""
