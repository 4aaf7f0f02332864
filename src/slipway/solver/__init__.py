"""slipway.solver: see DESIGN.md."""
