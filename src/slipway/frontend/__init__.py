"""slipway.frontend: see DESIGN.md."""
