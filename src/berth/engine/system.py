"""What ``/info`` and ``/system/df`` report: facts about this engine, gathered from the
services and the host, never invented in a handler.

    SystemService.info()        counts (containers by state, images), the snapshotter and
                                the filesystem under it, runtimes, cgroup version, host facts
    SystemService.disk_usage()  docker's ``system df``: each image's size on disk (its
                                unpacked layers and the blobs it keeps, as docker's
                                containerd store counts content + snapshots) and how much
                                of it other images share, each container's writable layer,
                                and all of the images' layers and blobs, each counted once:
                                what ``image prune -a`` of every image would free
"""

from __future__ import annotations

import asyncio
import builtins
import os
import platform
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from berth.engine.containers.model import Container, Status
from berth.engine.images.image import Image
from berth.store.snapshots.storage import backing_filesystem


class ContainerSource(Protocol):
    def list(self) -> list[Container]: ...


class ImageSource(Protocol):
    async def list(self, all: bool = False) -> builtins.list[Image]: ...

    async def layer_sizes(self, image: Image) -> builtins.list[tuple[str, int]]:
        """``(chain id, bytes)`` of each layer of ``image``, bottom first."""
        ...

    async def blob_sizes(self, image: Image) -> builtins.list[tuple[str, int]]:
        """``(digest, bytes)`` of each blob ``image`` keeps (layer tars, config,
        manifest)."""
        ...


class RwSizer(Protocol):
    async def rw_size(self, container_id: str) -> int: ...


@dataclass(frozen=True)
class EngineFacts:
    """What the daemon was started with (config), for ``info``."""

    data_root: Path
    exec_root: Path
    snapshotter: str
    default_runtime: str
    runtimes: tuple[str, ...]
    cgroup_version: str
    debug: bool
    proc_view_off: str = ""  # why containers see the host's /proc ("": lxcfs's view is on)
    userns_remap: bool = False  # berthd --userns-remap is on


@dataclass(frozen=True)
class Info:
    containers: int
    running: int
    paused: int
    stopped: int
    images: int
    driver: str
    backing_filesystem: str
    network_drivers: tuple[str, ...]
    log_drivers: tuple[str, ...]
    runtimes: tuple[str, ...]
    default_runtime: str
    cgroup_version: str
    data_root: str
    debug: bool
    kernel_version: str
    operating_system: str
    architecture: str
    ncpu: int
    mem_total: int
    name: str
    proc_view_off: str = ""
    userns_remap: bool = False


@dataclass(frozen=True)
class ImageUsage:
    image: Image
    containers: int  # how many containers were made from it
    size: int  # bytes on disk: its unpacked layers and the blobs it keeps
    shared_size: int  # bytes of those that other images use too


@dataclass(frozen=True)
class ContainerUsage:
    container: Container
    size_rw: int  # its writable layer
    size_root_fs: int  # that plus its image


@dataclass(frozen=True)
class DiskUsage:
    layers_size: int  # every image layer and blob, each counted once
    images: tuple[ImageUsage, ...]
    containers: tuple[ContainerUsage, ...]


class SystemService:
    def __init__(self, facts: EngineFacts, containers: ContainerSource, images: ImageSource,
                 sizes: RwSizer, log_drivers: tuple[str, ...]) -> None:
        self._facts = facts
        self._containers = containers
        self._images = images
        self._sizes = sizes
        self._log_drivers = log_drivers

    async def info(self) -> Info:
        f = self._facts
        all_containers = self._containers.list()
        count = Counter(c.state.status for c in all_containers)
        images = await self._images.list(all=True)
        return Info(
            containers=len(all_containers), running=count[Status.RUNNING],
            paused=count[Status.PAUSED],
            stopped=len(all_containers) - count[Status.RUNNING] - count[Status.PAUSED],
            images=len(images), driver=f.snapshotter,
            backing_filesystem=await asyncio.to_thread(backing_filesystem, f.data_root),
            network_drivers=("bridge", "host", "null"),
            log_drivers=self._log_drivers, runtimes=f.runtimes,
            default_runtime=f.default_runtime, cgroup_version=f.cgroup_version,
            data_root=str(f.data_root), debug=f.debug, kernel_version=platform.release(),
            operating_system=_os_name(), architecture=platform.machine(),
            ncpu=os.cpu_count() or 1,
            mem_total=os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            name=platform.node(), proc_view_off=f.proc_view_off,
            userns_remap=f.userns_remap)

    async def disk_usage(self) -> DiskUsage:
        images = await self._images.list(all=True)
        containers = self._containers.list()
        # what each image holds on disk: its unpacked layers (by chain id) and the blobs
        # it keeps (by digest); one shared by several images is there once
        # (a bottom layer's chain id is its uncompressed blob's digest: kinds kept apart)
        parts: dict[str, dict[tuple[str, str], int]] = {}
        for i in images:
            parts[i.id] = {("layer", chain): size
                           for chain, size in await self._images.layer_sizes(i)}
            parts[i.id].update({("blob", digest): size
                                for digest, size in await self._images.blob_sizes(i)})
        users = Counter(key for held in parts.values() for key in held)
        unique = {key: size for held in parts.values() for key, size in held.items()}
        made_from = Counter(c.image_id for c in containers)
        image_usage = tuple(
            ImageUsage(i, made_from[i.id], sum(parts[i.id].values()),
                       sum(size for key, size in parts[i.id].items() if users[key] > 1))
            for i in images)
        sizes = {i.id: i.size for i in images}
        container_usage = []
        for c in containers:
            rw = await self._sizes.rw_size(c.id)
            container_usage.append(ContainerUsage(c, rw, rw + sizes.get(c.image_id, 0)))
        return DiskUsage(sum(unique.values()), image_usage, tuple(container_usage))


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "Linux"
