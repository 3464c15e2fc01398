"""The prepare step of a start: where networking and volumes plug into the life cycle.

A ``ContainerPreparer`` readies what a container's process needs from outside its
bundle, once its task exists (init created, its namespaces made, nothing of the user's
run yet) and before its process starts; and releases it after the run (containerd's CNI
setup between task create and start)::

    start:  spawn task ─▶ prepare(c, task) for each, in order ─▶ attach ─▶ task.start()
               │ one fails: the task is killed, the ones prepared are released in
               │ reverse order, and the start fails with its error
    exit:   (exit recorded, under the container's lock) ─▶ release(c) for each, reversed
    remove: release(c) for each, reversed (whatever an exit nobody saw left behind)

``release`` must be idempotent and must accept a container it never prepared (a daemon
restarted since, or an exit after a prepare that failed): like CNI's DEL, it releases
whatever it finds. The service calls both under the container's lock, so a prepare never
overlaps the release of the same container. daemon.py passes the list (empty for now).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from berth.engine.containers.model import Container
from berth.errors import BerthError
from berth.runtime.task import Task

log = logging.getLogger(__name__)


class ContainerPreparer(Protocol):
    async def prepare(self, container: Container, task: Task) -> None:
        """Ready ``container``'s run of ``task`` (created, not started); raise to fail
        the start."""
        ...

    async def release(self, container: Container) -> None:
        """Undo what a prepare of ``container`` did; idempotent."""
        ...


async def prepare_all(preparers: Sequence[ContainerPreparer], c: Container,
                      task: Task) -> None:
    """Prepare in order; if one raises, release the ones before it (reversed) and
    re-raise. Killing the task is the caller's."""
    done: list[ContainerPreparer] = []
    try:
        for p in preparers:
            await p.prepare(c, task)
            done.append(p)
    except BaseException:
        await release_all(done, c)
        raise


async def release_all(preparers: Sequence[ContainerPreparer], c: Container) -> None:
    """Release in reverse order. A failure is logged, not raised: the exit or removal it
    belongs to must be recorded anyway, and the next release tries again."""
    for p in reversed(preparers):
        try:
            await p.release(c)
        except (BerthError, OSError) as err:
            log.error("container %s: releasing %s failed: %s", c.id[:12],
                      type(p).__name__, err)
