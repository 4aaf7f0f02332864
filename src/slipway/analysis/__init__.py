"""slipway.analysis: where an image's bytes are (`analyze`), what differs between two images (`diff`), and the
multi-stage advisor (`advise`). Reads images through the store, builds and runs through the public API; the
pictures (`report`) import their plotting library only when asked for.

Importing the package loads none of them: every build imports analysis/summary.py (the lines after a build),
which needs only the content table, not the layer reader and the waste measure behind `analyze`. Each module
is imported by its own name (`from slipway.analysis.analyze import analyze`)."""
