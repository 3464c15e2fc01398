"""``system df`` and ``info`` are computed from the services, not invented."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from berth.engine.containers.model import Container, ContainerSpec, State, Status
from berth.engine.images.image import Image
from berth.engine.system import EngineFacts, SystemService
from berth.store.snapshots.storage import backing_filesystem


def _image(image_id: str, layers: list[str], size: int) -> Image:
    config: Any = {"rootfs": {"type": "layers", "diff_ids": layers}}
    return Image(image_id, (), (), "2026-01-01T00:00:00Z", size, config, "", "")


def _container(cid: str, image_id: str, status: Status) -> Container:
    return Container(cid, cid, "2026-01-01T00:00:00Z", ContainerSpec(image="x"), image_id,
                     "sh", (), None, None, (), (), "/", "", "", "native", "",
                     state=State(status=status))


class _Images:
    def __init__(self, images: list[Image], sizes: dict[str, list[tuple[str, int]]]) -> None:
        self._images, self._sizes = images, sizes

    async def list(self, all: bool = False) -> list[Image]:
        return self._images

    async def layer_sizes(self, image: Image) -> list[tuple[str, int]]:
        return self._sizes[image.id]

    async def blob_sizes(self, image: Image) -> list[tuple[str, int]]:
        """The bottom layer's blob is uncompressed: its digest is that layer's chain id,
        which must not make the two one."""
        config = [("sha256:cfg-" + image.id, 3), ("sha256:man-" + image.id, 2)]
        return [("c-l1", 10), *config] if image.id == "sha256:base" else \
            [("c-l1", 10), ("sha256:l2-gz", 20), *config]


class _Containers:
    def __init__(self, containers: list[Container]) -> None:
        self._containers = containers

    def list(self) -> list[Container]:
        return self._containers


class _Sizes:
    async def rw_size(self, container_id: str) -> int:
        return {"c1": 10, "c2": 0}[container_id]


def _service(tmp_path: Path) -> SystemService:
    base, app = _image("sha256:base", ["sha256:l1"], 100), \
        _image("sha256:app", ["sha256:l1", "sha256:l2"], 150)
    images = _Images([base, app], {"sha256:base": [("c-l1", 100)],
                                   "sha256:app": [("c-l1", 100), ("c-l1l2", 50)]})
    containers = _Containers([_container("c1", "sha256:app", Status.RUNNING),
                              _container("c2", "sha256:app", Status.EXITED)])
    facts = EngineFacts(tmp_path, tmp_path, "overlay", "native", ("native", "runc"), "1",
                        False)
    return SystemService(facts, containers, images, _Sizes(), ("json-file",))


def test_disk_usage_counts_shared_layers_once(tmp_path: Path) -> None:
    df = asyncio.run(_service(tmp_path).disk_usage())
    assert df.layers_size == 150 + 10 + 20 + 2 * 5  # layers, blobs: each once
    by_id = {u.image.id: u for u in df.images}
    assert (by_id["sha256:base"].size, by_id["sha256:base"].shared_size,
            by_id["sha256:base"].containers) == (115, 110, 0)
    assert (by_id["sha256:app"].size, by_id["sha256:app"].shared_size,
            by_id["sha256:app"].containers) == (185, 110, 2)
    assert [(u.container.id, u.size_rw, u.size_root_fs) for u in df.containers] == \
        [("c1", 10, 160), ("c2", 0, 150)]


def test_info_counts_and_host_facts(tmp_path: Path) -> None:
    info = asyncio.run(_service(tmp_path).info())
    assert (info.containers, info.running, info.stopped, info.images) == (2, 1, 1, 2)
    assert info.driver == "overlay" and info.runtimes == ("native", "runc")
    assert info.backing_filesystem == backing_filesystem(tmp_path) != "unknown"
