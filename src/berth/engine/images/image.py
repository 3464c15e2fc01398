"""The image as the engine hands it to the API layer."""

from __future__ import annotations

from dataclasses import dataclass

from berth.oci.image import ImageConfig, chain_ids


@dataclass(frozen=True)
class Image:
    id: str  # "sha256:<hex>", the digest of the stored config bytes
    repo_tags: tuple[str, ...]  # familiar: "busybox:latest"
    repo_digests: tuple[str, ...]  # familiar: "busybox@sha256:..."
    created: str  # RFC 3339
    size: int
    config: ImageConfig
    parent: str
    comment: str

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config["rootfs"]["diff_ids"])

    @property
    def chain_id(self) -> str | None:
        """The chain id of the top layer (the snapshot containers start from)."""
        ids = chain_ids(self.diff_ids)
        return ids[-1] if ids else None
