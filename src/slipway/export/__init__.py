"""slipway.export: see DESIGN.md."""
