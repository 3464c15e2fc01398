"""The prepare step of a start: where networking and volumes plug into the life cycle.

A ``ContainerPreparer`` checks at create what a spec names outside the container
(networks, linked containers, volumes), readies it before each start, and releases it
after each run (containerd's CNI setup, but before the task exists: berth makes the
network namespace itself and hands the runtime its path in the spec)::

    create: check(spec) for each, in order: the spec each returns goes to the next; a
            refusal raises before anything of the container exists
    start:  prepare(c) for each, in order ─▶ their spec options, after the container's
            own ─▶ bundle ─▶ spawn task ─▶ attach ─▶ task.start()
               │ one fails (or the spawn or start does): the ones prepared are released
               │ in reverse order, and the start fails with its error
    exit:   (exit recorded, under the container's lock) ─▶ release(c) for each, reversed
    remove: release(c) for each, reversed (whatever an exit nobody saw left behind);
            once the record is gone, removed(c, volumes) for each

``release`` must be idempotent and must accept a container it never prepared (a daemon
restarted since, or an exit after a prepare that failed): like CNI's DEL, it releases
whatever it finds. The service calls prepare and release under the container's lock, so a
prepare never overlaps the release of the same container. daemon.py passes the list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from berth.engine.containers.model import Container, ContainerSpec
from berth.errors import BerthError
from berth.runtime.spec import SpecOpt

log = logging.getLogger(__name__)


class ContainerPreparer(Protocol):
    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        """At create: refuse what cannot be honoured (NotFound, InvalidArgument, ...) and
        return the spec with what it names resolved (network names to ids)."""
        ...

    async def prepare(self, container: Container) -> Sequence[SpecOpt]:
        """Ready ``container``'s next run, before its bundle is written; the spec
        options returned apply after the container's own. Raise to fail the start."""
        ...

    async def release(self, container: Container) -> None:
        """Undo what a prepare of ``container`` did; idempotent."""
        ...

    async def removed(self, container: Container, volumes: bool) -> None:
        """After ``container``'s record is gone (``volumes``: ``rm -v`` or ``--rm``, its
        anonymous volumes go too). Must not raise for what is already gone."""
        ...


async def check_all(preparers: Sequence[ContainerPreparer], spec: ContainerSpec
                    ) -> ContainerSpec:
    for p in preparers:
        spec = await p.check(spec)
    return spec


async def prepare_all(preparers: Sequence[ContainerPreparer], c: Container
                      ) -> list[SpecOpt]:
    """Prepare in order; if one raises, release the ones before it (reversed) and
    re-raise."""
    done: list[ContainerPreparer] = []
    opts: list[SpecOpt] = []
    try:
        for p in preparers:
            opts += await p.prepare(c)
            done.append(p)
    except BaseException:
        await release_all(done, c)
        raise
    return opts


async def removed_all(preparers: Sequence[ContainerPreparer], c: Container,
                      volumes: bool) -> None:
    """After a removal, in reverse order; a failure is logged (the record is gone)."""
    for p in reversed(preparers):
        try:
            await p.removed(c, volumes)
        except (BerthError, OSError) as err:
            log.error("container %s: %s after removal failed: %s", c.id[:12],
                      type(p).__name__, err)


async def release_all(preparers: Sequence[ContainerPreparer], c: Container) -> None:
    """Release in reverse order. A failure is logged, not raised: the exit or removal it
    belongs to must be recorded anyway, and the next release tries again."""
    for p in reversed(preparers):
        try:
            await p.release(c)
        except (BerthError, OSError) as err:
            log.error("container %s: releasing %s failed: %s", c.id[:12],
                      type(p).__name__, err)
