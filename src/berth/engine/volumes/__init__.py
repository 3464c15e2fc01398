"""Volumes: the local driver, the volume service and the volume preparer
(docs/design/volumes.md)."""
