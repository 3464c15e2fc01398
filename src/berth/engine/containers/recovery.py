"""What the last daemon left under the exec and data roots, taken back at start.

``ContainerService.restore`` walks the records: a running one gets its task back (live
restore) or its exit recorded from ``exit.json``; a removal cut short is finished. This
module handles what no record explains::

    <exec-root>/containers/<id>/  with a shim, but the record is not running (the daemon
                                  died inside start) or gone: kill the container, delete
                                  the dir (``reap_orphan``)
    <data-root>/containers/<id>/  with no record (a removal that deleted the record and
                                  died before the files): delete it (``sweep``)
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from berth.engine.containers.tasks import ContainerTasks

log = logging.getLogger(__name__)


async def reap_orphan(tasks: ContainerTasks, cid: str) -> bool:
    """Kill the container of a shim whose start was never recorded, so no process runs
    that ``ps`` cannot show, and delete its state dir. Whether there was such a shim."""
    state_dir = tasks.state_dir(cid)
    task = await tasks.manager.connect(state_dir)
    if task is not None:
        log.warning("killing container %s: its start was never recorded", cid)
        await tasks.discard(cid, task)  # a shim that dies meanwhile is reclaimed
    await asyncio.to_thread(shutil.rmtree, state_dir, True)
    return task is not None


async def sweep(tasks: ContainerTasks, exec_root: Path, data_root: Path, known: set[str]
                ) -> None:
    """Reap the shims and delete the dirs of containers that have no record."""
    for state_dir in await asyncio.to_thread(_children, exec_root / "containers"):
        if state_dir.name not in known:
            await reap_orphan(tasks, state_dir.name)
    for data_dir in await asyncio.to_thread(_children, data_root / "containers"):
        if data_dir.name not in known:
            await asyncio.to_thread(shutil.rmtree, data_dir, True)


def _children(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []
