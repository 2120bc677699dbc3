"""The default engine: one JSON file, read whole, replaced atomically under a lock."""
