"""The task side of the containers: launching a created container's task, watching it
run, and handing its exit to the state machine (``service.py``), which records it.

    launch(c, attach):  prepare hooks ─▶ bundle (config.json from ``specopts`` and the
        hooks' options) ─▶ TaskManager.create ─▶ attach(task) (the parked attaches)
        ─▶ task.start()
        any step failing after the hooks: what was prepared is released (and a created
        task is killed: its init never ran the user's process), the error is raised
    watch(cid, task):   monitor: task.wait() ─▶ forget the task ─▶ close it
        ─▶ hand the exit over ─▶ on_exit(cid, status, error)
        (ShimDied: reclaim the container through its cgroup first: exit 137)
    reattach(cid):      after a daemon restart, the same for a task found running, or
        on_exit from exit.json (or 137) for one that exited while no daemon watched

The hand-over is a future per container (``seen``): the state machine records an exit
under the container's lock, and a restart that holds that lock across the exit it caused
takes the exit from ``seen`` itself instead of waiting for the monitor (which would wait
for the lock: a deadlock). Whoever records it ``take``s it; a monitor that then gets the
lock finds it gone (``unrecorded`` is False) and does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from berth.engine.containers import specopts
from berth.engine.containers.bundle import write_bundle
from berth.engine.containers.model import Container, ContainerSpec
from berth.engine.containers.preparer import (
    ContainerPreparer,
    check_all,
    prepare_all,
    release_all,
    removed_all,
)
from berth.engine.images.service import ImageService
from berth.errors import BerthError
from berth.oci.mount import Mount
from berth.runtime import spec as runtime_spec
from berth.runtime.host import CgroupParent
from berth.runtime.shim import ExitStatus, ShimOptions
from berth.runtime.shim.client import ShimDied, read_exit_status
from berth.runtime.task import Task, TaskManager
from berth.store.rootview import LayerTree

log = logging.getLogger(__name__)

SHIM_DIED_EXIT = 137  # a container whose shim died is killed: containerd reports 128+9
SHIM_DIED = "the container's shim died (killed or crashed), so the container was killed"

Exit = tuple[ExitStatus, str]  # the status, and the Error to record ("" if none)


@dataclass(frozen=True)
class TaskOptions:
    data_root: Path
    exec_root: Path
    runtimes: Mapping[str, str]  # runtime name → the shim's handler (daemon.py's table)
    cgroups: CgroupParent


class ContainerTasks:
    def __init__(self, opts: TaskOptions, images: ImageService, manager: TaskManager,
                 preparers: Sequence[ContainerPreparer],
                 on_exit: Callable[[str, ExitStatus, str], Awaitable[None]]) -> None:
        self._opts = opts
        self._images = images
        self.manager = manager
        self._preparers = tuple(preparers)
        self._on_exit = on_exit
        self._live: dict[str, Task] = {}
        self._monitors: dict[str, asyncio.Task[None]] = {}
        self._seen: dict[str, asyncio.Future[Exit]] = {}

    def get(self, cid: str) -> Task | None:
        """The task of a running container (None once its monitor saw it exit)."""
        return self._live.get(cid)

    def state_dir(self, cid: str) -> Path:
        return self._opts.exec_root / "containers" / cid

    # ── launch ───────────────────────────────────────────────────────────────────────

    async def launch(self, c: Container, attach: Callable[[Task], Awaitable[None]]
                     ) -> Task:
        """Start a run of ``c``; ``attach`` connects the parked attaches to the created
        task before its process runs."""
        extra = await prepare_all(self._preparers, c)
        try:
            task = await self._spawn(c, extra)
        except Exception:
            await self.release(c)
            raise
        try:
            await attach(task)
            await task.start()
        except Exception:
            await self.discard(c.id, task)
            await self.release(c)
            raise
        return task

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        """The create-time check of every prepare hook (preparer.py)."""
        return await check_all(self._preparers, spec)

    async def _spawn(self, c: Container, extra: Sequence[runtime_spec.SpecOpt]) -> Task:
        mounts = await self._images.rootfs_mounts(c.id)
        state_dir = self.state_dir(c.id)
        # All the blocking work in one hop: each to_thread is a thread handoff.
        await asyncio.to_thread(self._write_bundle, c, mounts, state_dir, extra)
        return await self.manager.create(ShimOptions(
            container_id=c.id, bundle=state_dir, rootfs_mounts=tuple(mounts),
            state_dir=state_dir, log_path=Path(c.log_path) if c.log_path else None,
            runtime=self._opts.runtimes.get(c.runtime, c.runtime), tty=c.spec.tty,
            open_stdin=c.spec.open_stdin, stdin_once=c.spec.stdin_once,
            log_options=c.spec.log_config.options))

    def _write_bundle(self, c: Container, mounts: list[Mount], state_dir: Path,
                      extra: Sequence[runtime_spec.SpecOpt]) -> None:
        """config.json from the container's spec options and then the prepare hooks',
        applied in order (in a thread: they look the user up in the image)."""
        opts = specopts.for_container(c, LayerTree.from_mounts(mounts),
                                      self._opts.cgroups.path(c.id))
        write_bundle(state_dir, runtime_spec.generate(state_dir / "rootfs",
                                                      [*opts, *extra]))

    async def discard(self, cid: str, task: Task) -> None:
        """Kill a task that will never start and let its shim finish."""
        try:
            await task.kill(signal.SIGKILL)
            await task.wait()
        except ShimDied:
            await self.reclaim(cid)
        except (BerthError, OSError) as err:
            log.error("container %s: killing a task that never started failed: %s",
                      cid[:12], err)
        finally:
            await task.close()

    async def release(self, c: Container) -> None:
        """Release what the prepare hooks did for ``c`` (idempotent)."""
        await release_all(self._preparers, c)

    async def removed(self, c: Container, volumes: bool) -> None:
        await removed_all(self._preparers, c, volumes)

    # ── watch, exit ──────────────────────────────────────────────────────────────────

    async def reattach(self, cid: str) -> bool:
        """Live restore of a container recorded as running: watch its task again (True),
        or, if its shim is gone, hand over the exit it recorded in exit.json, or 137 if
        it died without one (False)."""
        task = await self.manager.connect(self.state_dir(cid))
        if task is not None:
            log.info("restored container %s (pid %d)", cid[:12], task.init_pid)
            self.watch(cid, task)
            return True
        status = read_exit_status(self.state_dir(cid))
        if status is None:  # its shim died while no daemon watched
            await self._on_exit(cid, await self.reclaim(cid), SHIM_DIED)
        else:
            await self._on_exit(cid, status, "")
        return False

    def watch(self, cid: str, task: Task) -> None:
        self._live[cid] = task
        self._monitors[cid] = asyncio.create_task(self._monitor(cid, task),
                                                  name=f"monitor-{cid[:12]}")

    async def _monitor(self, cid: str, task: Task) -> None:
        error = ""
        try:
            status = await task.wait()
        except ShimDied as err:  # the wait's connection closed with the shim
            log.error("container %s: %s", cid[:12], err.message)
            status, error = await self.reclaim(cid), SHIM_DIED
        self._monitors.pop(cid, None)
        self._live.pop(cid, None)
        await task.close()
        await self._on_exit(cid, status, error)

    async def reclaim(self, cid: str) -> ExitStatus:
        """The shim of ``cid`` died without recording its exit (killed, or crashed): kill
        what is left of the container through its cgroup and delete it from its runtime,
        so that it can be recorded exited and removed, and nothing of it stays behind."""
        try:
            await asyncio.to_thread(self._opts.cgroups.destroy, cid)
            await self.manager.reap(self.state_dir(cid))
        except (OSError, BerthError) as err:
            log.error("container %s: cleaning up after its shim failed: %s", cid[:12], err)
        return ExitStatus(SHIM_DIED_EXIT, False, time.time())

    def seen(self, cid: str) -> asyncio.Future[Exit]:
        """The future of ``cid``'s next exit as its monitor sees it."""
        fut = self._seen.get(cid)
        if fut is None:
            fut = self._seen[cid] = asyncio.get_running_loop().create_future()
        return fut

    def hand_over(self, cid: str, status: ExitStatus, error: str) -> asyncio.Future[Exit]:
        fut = self.seen(cid)
        if not fut.done():
            fut.set_result((status, error))
        return fut

    def unrecorded(self, cid: str, fut: asyncio.Future[Exit]) -> bool:
        """Whether the exit handed over as ``fut`` still waits to be recorded."""
        return self._seen.get(cid) is fut

    def take(self, cid: str) -> Exit:
        """The exit handed over, for the one who records it."""
        return self._seen.pop(cid).result()

    async def close(self) -> None:
        """Stop watching; the shims and their containers keep running."""
        for monitor in self._monitors.values():
            monitor.cancel()
        for monitor in list(self._monitors.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
        for task in self._live.values():
            await task.close()
