"""Side-by-side build benchmarks: slipway against docker BuildKit and Buildah, on one dedicated file system.

Run as `benchmarks/run` (or `python3 -m benchmarks.suite` from the repository root); `--help` lists the flags.
"""
