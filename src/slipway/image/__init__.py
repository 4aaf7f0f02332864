"""slipway.image: see DESIGN.md."""
