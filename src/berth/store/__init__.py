"""Content, snapshots, metadata and layer diffs: synchronous, crash-consistent storage."""
