"""``RegistryOptions``: what ``create_app`` can be told (``berth-registry serve`` flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_MANIFEST_SIZE = 4 * 1024 * 1024  # distribution's default limit, and the spec's advice


@dataclass(frozen=True)
class RegistryOptions:
    realm: str = "berth-registry"
    htpasswd: Path | None = None  # None: no authentication
    delete_enabled: bool = True  # DELETE of blobs and manifests (distribution's storage.delete)
    tag_delete_enabled: bool = False  # DELETE /manifests/<tag>; the spec lets a registry refuse
    max_manifest_size: int = MAX_MANIFEST_SIZE
