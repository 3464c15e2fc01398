"""Operations on recorded containers outside their start/exit life cycle: rename, prune,
and top (moby's ``daemon/rename.go``, ``prune.go``, ``top_unix.go``)."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from berth.engine import clock
from berth.engine.containers import top
from berth.engine.containers.service import ContainerService
from berth.engine.events import Event, EventBus
from berth.engine.images.service import ImageService
from berth.errors import InvalidArgument, NotFound
from berth.store.rootview import LayerTree


@dataclass(frozen=True)
class PruneFilters:
    until: float | None = None  # unix seconds: only containers created before
    labels: tuple[str, ...] = ()  # "k" or "k=v": must match
    not_labels: tuple[str, ...] = ()  # "label!=k[=v]": must not match


@dataclass(frozen=True)
class PruneReport:
    deleted: tuple[str, ...]
    space_reclaimed: int


class ContainerAdmin:
    def __init__(self, containers: ContainerService, images: ImageService,
                 events: EventBus) -> None:
        self._containers = containers
        self._images = images
        self._events = events

    async def rename(self, ref: str, new_name: str) -> None:
        await self._containers.rename(ref, new_name)  # under the container's lock

    async def top(self, ref: str, ps_args: str) -> top.ProcessTable:
        c, _ = self._containers.running_task(ref)
        try:
            pids = await asyncio.to_thread(self._containers.cgroups.pids, c.id)
        except OSError as err:
            raise NotFound(f"cgroup of container {c.id} is gone: {err}") from err
        table = await top.top(pids, ps_args)
        self._containers.publish(c, "top")
        return table

    async def export(self, ref: str) -> AsyncGenerator[bytes, None]:
        """``docker export``: the container's root filesystem (image layers and its own
        changes, merged) as a tar, running or not."""
        c = self._containers.get(ref)
        chunks = await self._images.export_rootfs(c.id)
        self._containers.publish(c, "export")
        return chunks

    async def prune(self, filters: PruneFilters) -> PruneReport:
        deleted: list[str] = []
        reclaimed = 0
        for c in self._containers.list():
            if c.state.running or not _matches(c.labels, c.created, filters):
                continue
            size = await self.rw_size(c.id)
            try:
                await self._containers.remove(c.id)
            except NotFound:
                continue  # removed meanwhile by someone else
            deleted.append(c.id)
            reclaimed += size
        self._events.publish(Event("container", "prune", "",
                                   (("reclaimed", str(reclaimed)),)))
        return PruneReport(tuple(deleted), reclaimed)

    async def sizes(self, ref: str) -> tuple[int, int]:
        """docker's SizeRw and SizeRootFs (``ps -s``, ``inspect --size``)."""
        c = self._containers.get(ref)
        try:
            image = (await self._images.get(c.image_id)).size
        except NotFound:
            image = 0
        rw = await self.rw_size(c.id)
        return rw, rw + image

    async def rw_size(self, cid: str) -> int:
        """Bytes in the container's writable layer (docker's SizeRw)."""
        try:
            upper = LayerTree.from_mounts(await self._images.rootfs_mounts(cid)).upper
        except (InvalidArgument, NotFound, OSError):
            return 0
        return await asyncio.to_thread(_tree_size, str(upper))


def _matches(labels: tuple[tuple[str, str], ...], created: str, f: PruneFilters) -> bool:
    have = dict(labels)

    def has(label: str) -> bool:
        key, eq, value = label.partition("=")
        return key in have and (not eq or have[key] == value)

    if f.until is not None and clock.parse(created) >= f.until:
        return False
    return all(has(x) for x in f.labels) and not any(has(x) for x in f.not_labels)


def parse_until(value: str) -> float:
    try:
        return clock.parse_point(value)
    except ValueError:
        raise InvalidArgument(f"invalid value for until: {value!r}") from None


def _tree_size(root: str) -> int:
    """As moby's ``directory.Size``: every non-directory (a link to a directory too),
    each inode once (hard links take the space once)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue  # deleted while we walk: it no longer takes space
            if not stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total
