"""Stand-ins for what ContainerService needs from the image service, for lifecycle unit
tests that run no kernel: one image, and a rootfs that is a plain directory."""

from __future__ import annotations

from pathlib import Path

from berth.engine.images.image import Image
from berth.oci.mount import Mount


class StubImages:
    """The calls create, start and remove make on the image service."""

    def __init__(self, rootfs: Path) -> None:
        self.rootfs = rootfs

    async def get(self, ref: str) -> Image:
        return Image(id="sha256:" + "1" * 64, repo_tags=(ref,), repo_digests=(), created="",
                     size=0, parent="", comment="",
                     config={"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": []}})

    async def prepare_rootfs(self, image_id: str, key: str) -> list[Mount]:
        return await self.rootfs_mounts(key)

    async def rootfs_mounts(self, key: str) -> list[Mount]:
        return [Mount("bind", str(self.rootfs), ("rbind", "rw"))]

    async def remove_rootfs(self, key: str) -> None:
        pass
