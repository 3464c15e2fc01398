"""``Registry``: the stores over one ``StorageDriver``, and the repository catalog.

This is everything the HTTP layer needs and nothing of HTTP: handlers call these
synchronous methods through ``asyncio.to_thread`` and turn results into responses.
"""

from __future__ import annotations

from berth.registry.server import paths
from berth.registry.server.blobs import BlobStore
from berth.registry.server.manifests import ManifestStore
from berth.registry.server.storage import PathNotFound, StorageDriver
from berth.registry.server.uploads import UploadStore


class Registry:
    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver
        self.blobs = BlobStore(driver)
        self.uploads = UploadStore(driver, self.blobs)
        self.manifests = ManifestStore(driver, self.blobs)

    def repositories(self, marker: str = paths.MANIFESTS_DIR) -> list[str]:
        """Every repository holding ``marker`` (by default: manifests), in lexical order
        (the catalog's order). Name components never start with ``_``, so the walk skips
        a repository's own directories."""
        found: list[str] = []
        pending = [""]
        while pending:
            prefix = pending.pop()
            try:
                children = self.driver.list(f"{paths.REPOSITORIES}/{prefix}".rstrip("/"))
            except PathNotFound:
                continue
            if marker in children:
                found.append(prefix)
            pending += [f"{prefix}/{c}".lstrip("/") for c in children if not c.startswith("_")]
        return sorted(found)
