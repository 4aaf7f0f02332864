"""The names of what a store keeps under its root (see _store.py), for the parts that work without a Store."""

META_DB = "meta.db"
REGISTRIES_FILE = "registries.json"  # the user's {"insecure-registries": [...]}, read by slipway.registry
META_RESERVE = "meta.reserve"  # space held back for meta.db on a full disk (space.py)
