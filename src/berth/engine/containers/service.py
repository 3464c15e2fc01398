"""The container service: the state machine of a container's life (create, start,
stop, kill, restart, pause, wait, attach, remove).

The daemon holds one ``Task`` per running container and one monitor task that awaits its
exit; every state change is saved before it is published. Waiters and attach requests
that arrive before a start are parked and served in start's critical window::

    start: prepare hooks ─▶ spawn task (init blocked) ─▶ connect parked attaches
           ─▶ task.start() ─▶ running
    monitor: task.wait() ─▶ hand the exit over ─▶ (container lock) release hooks,
             save exited state, wake waiters ─▶ auto-remove

The states, the transitions and which lock each takes, in which order:
docs/design/lifecycle.md. What the spec says is composed in ``specopts``; what the last
daemon left is taken back in ``recovery``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import logging
import secrets
import shutil
import signal as _signal
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from berth.engine import clock
from berth.engine.containers import (
    health,
    names,
    process,
    record,
    recovery,
    restart,
    signals,
    update,
)
from berth.engine.containers.model import (
    Container,
    ContainerSpec,
    EndpointConfig,
    Health,
    Status,
)
from berth.engine.containers.preparer import ContainerPreparer
from berth.engine.containers.store import ContainerStore
from berth.engine.containers.tasks import ContainerTasks, TaskOptions
from berth.engine.containers.waiters import AttachRequest, Streams, Waiters
from berth.engine.events import Event, EventBus
from berth.engine.images.service import ImageService
from berth.errors import (
    BerthError,
    Conflict,
    InvalidArgument,
    NotFound,
    NotModified,
    RuntimeFailure,
)
from berth.runtime import NATIVE
from berth.runtime.host import CgroupParent
from berth.runtime.shim import ExitStatus
from berth.runtime.task import Task, TaskManager

log = logging.getLogger(__name__)

KILL_WAIT = 10.0  # moby's Kill: how long a SIGKILL waits for the exit
EXIT_RECORD_WAIT = 10.0  # how long an exit seen but not yet recorded is waited for
# <data-root>/containers/<id>/commit-paused: a commit (commit.py) froze the container and
# has not thawed it yet; a daemon killed meanwhile thaws it at its next start
COMMIT_PAUSE_MARKER = "commit-paused"


@dataclass(frozen=True)
class ServiceOptions:
    data_root: Path
    exec_root: Path
    default_runtime: str = NATIVE
    cgroup_parent: str = "berth"
    # runtime name → the handler the shim makes it from (daemon.py's table); an absolute
    # path is a runtime too (any runc-compatible binary)
    runtimes: Mapping[str, str] = field(default_factory=lambda: {NATIVE: NATIVE})


class ContainerService:
    def __init__(self, opts: ServiceOptions, store: ContainerStore, images: ImageService,
                 tasks: TaskManager, events: EventBus,
                 preparers: Sequence[ContainerPreparer] = ()) -> None:
        self._opts = opts
        self.store = store
        self._images = images
        self._events = events
        self.cgroups = CgroupParent(opts.cgroup_parent)
        self._tasks = ContainerTasks(
            TaskOptions(opts.data_root, opts.exec_root, opts.runtimes, self.cgroups),
            images, tasks, preparers, self._record_exit)
        self._waiters = Waiters()
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._restarts = restart.RestartSupervisor(self._backoff_over)
        self._exit_on_next: set[str] = set()  # stopped/killed via the API: no restart
        self.health = health.HealthChecks(self._health_changed)

    # ── daemon start and stop ──────────────────────────────────────────────────────────

    async def restore(self) -> None:
        """Take back what the last daemon left, whatever moment it died at.

        Running containers get their shims back (live restore). A shim whose container was
        never recorded as running (the daemon died inside ``start``) or whose record is gone
        is told to kill its container, so no process runs that ``ps`` cannot show. A
        removal cut short is finished, and rootfs snapshots and directories that no record
        owns are deleted."""
        containers = await asyncio.to_thread(self.store.load)
        for c in containers:
            # frozen by a commit the last daemon never ended: thawed, the marker gone
            # either way (a later pause of the user's must stay)
            marker = self.data_dir(c.id) / COMMIT_PAUSE_MARKER
            thaw = marker.exists()
            marker.unlink(missing_ok=True)
            if c.state.running:
                if await self._tasks.reattach(c.id):
                    self.health.start(c)
                    if thaw:
                        await self._resume(c.id, self.running_task(c.id)[1])
            elif await recovery.reap_orphan(self._tasks, c.id):
                await self._tasks.release(c)  # its start may have prepared it
        known = {c.id for c in containers}
        await recovery.sweep(self._tasks, self._opts.exec_root, self._opts.data_root,
                             known)
        for c in containers:
            if c.state.status == Status.REMOVING:
                await self._finish_remove(c)
        pruned = await self._images.prune_rootfs(known)
        if pruned:
            log.info("removed %d rootfs snapshots that no container owned", len(pruned))
        for c in self.store.all():
            if restart.start_at_daemon_start(c) and not self._restarts.pending(c.id):
                log.info("starting container %s (restart policy %s)", c.id[:12],
                         c.spec.restart_policy.name)
                await self._auto_restart(c.id)

    async def close(self) -> None:
        """Stop watching; the shims and their containers keep running."""
        await self._restarts.close()
        await self.health.close()
        await self._tasks.close()
        # the --cgroup-parent goes with the daemon unless containers still run in it
        try:
            await asyncio.to_thread(self.cgroups.release)
        except OSError as err:
            log.warning("cannot remove cgroup parent %s: %s", self._opts.cgroup_parent, err)

    # ── create, inspect ───────────────────────────────────────────────────────────────

    async def create(self, name: str | None, spec: ContainerSpec) -> Container:
        name = names.validate(name) if name else self._free_name()
        runtime = spec.runtime or self._opts.default_runtime
        record.validate(spec, runtime, self._opts.runtimes)
        image = await self._images.get(spec.image)
        spec = await self._tasks.check(spec)
        cid = secrets.token_hex(32)
        data_dir = self._opts.data_root / "containers" / cid
        container = record.new_container(cid, name, spec, image.id,
                                         image.config.get("config", {}), runtime, data_dir)
        try:
            await self._images.prepare_rootfs(image.id, cid)
        except BaseException:
            await self._tasks.removed(container, True)  # the anonymous volumes check made
            raise
        try:
            await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
            await self.store.insert(container)
        except BaseException:
            await self._images.remove_rootfs(cid)
            await self._tasks.removed(container, True)
            raise
        self._publish(container, "create")
        return container

    def _free_name(self) -> str:
        while True:
            candidate = names.random_name()
            if self.store.name_owner(candidate) is None:
                return candidate

    def get(self, ref: str) -> Container:
        return self.health.overlay(self.store.get(ref))

    def list(self) -> builtins.list[Container]:
        return sorted(map(self.health.overlay, self.store.all()), key=lambda c: c.created,
                      reverse=True)

    def image_users(self, image_id: str) -> builtins.list[tuple[str, bool]]:
        return [(c.id, c.state.running) for c in self.store.all() if c.image_id == image_id]

    async def rename(self, ref: str, new_name: str) -> None:
        """``docker rename``, under the container's lock like every other change to its
        record: a start, exit or stop in flight cannot save the old name back over the
        new one, and a removal cannot finish under it (then it is NotFound)."""
        if not ref or not new_name:
            raise InvalidArgument("Neither old nor new names may be empty")
        c = self.get(ref)
        name = names.validate(new_name)
        async with self._locks[c.id]:
            c = self.get(c.id)
            if name == c.name:
                raise InvalidArgument(
                    "Renaming a container with the same name as its current name")
            old = c.name
            c = await self.store.rename(c, name)
        self._publish(c, "rename", oldName="/" + old)

    async def change_endpoints(
            self, ref: str,
            change: Callable[[Container], Awaitable[tuple[EndpointConfig, ...]]]
    ) -> Container:
        """Replace the networks ``ref`` is on (network connect/disconnect) with what
        ``change`` makes of the container, under its lock: a start or exit cannot run
        while ``change`` gives a running container its interface or takes it away."""
        c = self.get(ref)
        async with self._locks[c.id]:
            c = self.get(c.id)
            endpoints = await change(c)
            return await self.store.save(replace(c, spec=replace(c.spec,
                                                                  endpoints=endpoints)))

    async def update(self, ref: str, change: update.ResourceUpdate) -> None:
        """``docker update`` (engine/containers/update.py): the merged limits and policy
        saved, then written into the cgroup of a running or paused container; the old
        record is put back if the kernel refuses a value."""
        c = self.get(ref)
        async with self._locks[c.id]:
            c = self.get(c.id)
            failed = f"Cannot update container {c.id}"
            if c.state.status in (Status.REMOVING, Status.DEAD):
                raise Conflict(f'{failed}: container is marked for removal and cannot be '
                               '"update"')
            try:
                spec = replace(c.spec, resources=update.merge(c, change),
                               restart_policy=update.restart_policy(c, change))
            except Conflict as err:
                raise Conflict(f"{failed}: {err}") from None
            new = await self.store.save(replace(c, spec=spec))
            if c.state.running:
                try:
                    await asyncio.to_thread(self.cgroups.update, c.id, update.live_resources(
                        spec.resources, change))
                except (OSError, ValueError) as err:
                    await self.store.save(c)
                    with contextlib.suppress(OSError, ValueError):  # what was written, back
                        await asyncio.to_thread(self.cgroups.update, c.id,
                                                update.live_resources(c.spec.resources, change))
                    reason = (f"cannot write {err.filename}: {err.strerror.lower()}"
                              if isinstance(err, OSError) and err.filename and err.strerror
                              else str(err))
                    raise RuntimeFailure(f"{failed}: {reason}") from err
        self._publish(new, "update")

    # ── start and exit ────────────────────────────────────────────────────────────────

    async def start(self, ref: str, *, manual: bool = True, only_if: Status | None = None
                    ) -> None:
        """Start ``ref``; ``manual`` (an API start, not a restart policy's) also resets
        RestartCount, the backoff and the manual stop, as docker's start does. With
        ``only_if``, start only a container in that state (else NotModified)."""
        cid = self.get(ref).id
        async with self._locks[cid]:
            c, failure = await self._start_locked(cid, manual, only_if)
        await self._started(c, failure)

    async def _start_locked(self, cid: str, manual: bool, only_if: Status | None = None
                            ) -> tuple[Container, BerthError | OSError | None]:
        """The body of a start, under the container's lock: the container running, or
        recorded as failed to start with the failure to raise once the lock is let go."""
        c = self.get(cid)
        if c.state.running:
            raise NotModified("container already started")
        if only_if is not None and c.state.status != only_if:
            raise NotModified(f"container is {c.state.status.value}, not {only_if.value}")
        if manual:
            self._restarts.forget(c.id)
            c = replace(c, restart_count=0, manually_stopped=False)
        self._exit_on_next.discard(c.id)
        if c.state.status in (Status.REMOVING, Status.DEAD):
            raise Conflict(f"cannot start container {c.id}: it is being removed")
        try:
            task = await self._tasks.launch(c, functools.partial(self._waiters.connect, c.id))
        except RuntimeFailure as err:
            await self._start_failed(c, err)
            return c, err
        except (BerthError, OSError) as err:  # nothing runs: parked attaches hear why
            self._waiters.fail(c.id, err)
            if not c.spec.auto_remove:
                raise
            return c, err  # a --rm container goes on any failed start, as docker's
        c = c.with_state(status=Status.RUNNING, pid=task.init_pid, exit_code=0, error="",
                         oom_killed=False, started_at=clock.rfc3339())
        await self.store.save(c)
        self._tasks.watch(c.id, task)
        self.health.start(c)
        return c, None

    async def _started(self, c: Container, failure: BerthError | OSError | None) -> None:
        """After a start, outside the lock (remove() takes it)."""
        if failure is not None:
            if c.spec.auto_remove:
                await self.remove(c.id, force=True)
            raise failure
        self._publish(c, "start")

    async def _start_failed(self, c: Container, err: RuntimeFailure) -> None:
        msg = err.message
        code = process.start_failure_code(msg)
        c = c.with_state(exit_code=code, error=msg)
        await self.store.save(c)
        self._publish(c, "die", exitCode=str(code))
        self._waiters.exited(c.id, code)
        self._waiters.fail(c.id, Conflict(f"container {c.id} failed to start: {msg}"))
        await asyncio.to_thread(shutil.rmtree, self._tasks.state_dir(c.id), True)

    async def _record_exit(self, cid: str, status: ExitStatus, error: str = "") -> None:
        """Hand the exit over, then record it under the container's lock, so a stop,
        kill or start waits for the outcome: exited, or restarting with its backoff
        scheduled. A restart that holds the lock across the exit it caused takes the
        handed-over exit and records it itself (``_stop_locked``); then it is no longer
        unrecorded when this gets the lock, and nothing is left to do."""
        seen = self._tasks.hand_over(cid, status, error)
        async with self._locks[cid]:
            if not self._tasks.unrecorded(cid, seen):
                return  # recorded by the restart that held the lock
            c, again = await self._record_seen(cid)
        if c.spec.auto_remove and not again:
            await self.remove(cid, force=True)

    async def _record_seen(self, cid: str, restarting: bool = False
                           ) -> tuple[Container, bool]:
        """Record the exit a monitor handed over; under the container's lock."""
        status, error = self._tasks.take(cid)
        await self._tasks.release(self.get(cid))
        return await self._exited(cid, status, error, restarting)

    async def _exit_settled(self, cid: str) -> bool:
        """The shim of ``cid`` is gone: whether a stop or kill must look again, because
        the container is in its restart backoff, or its exit was being recorded and now
        is (waited for)."""
        state = self.get(cid).state
        if state.status == Status.RESTARTING:
            return True
        return state.running and await self._exit_recorded(cid)

    async def _exit_recorded(self, cid: str) -> bool:
        """The record says running but the shim is gone: its exit is being recorded.
        Wait for that (True), or give up after 10 s (False)."""
        try:
            await asyncio.wait_for(self._waiters.on_exit(cid), EXIT_RECORD_WAIT)
        except TimeoutError:
            return False
        return True

    async def _exited(self, cid: str, status: ExitStatus, error: str, restarting: bool
                      ) -> tuple[Container, bool]:
        """Save the exit; whether the restart policy starts it again. The exit of a
        ``restart`` is neither restarted by the policy nor auto-removed (docker's
        HasBeenManuallyRestarted): the restart starts it."""
        self.health.stop(cid)
        c = self.get(cid)
        again = not restarting and cid not in self._exit_on_next and restart.should_restart(
            c.spec.restart_policy, status.exit_code, c.manually_stopped, c.restart_count)
        self._exit_on_next.discard(cid)
        c = c.with_state(status=Status.RESTARTING if again else Status.EXITED, pid=0,
                         exit_code=status.exit_code, oom_killed=status.oom_killed,
                         finished_at=clock.rfc3339(status.finished_at), error=error)
        if again:
            c = replace(c, restart_count=c.restart_count + 1)
        if c.spec.auto_remove and not again and not restarting:
            self.store.hold(c)  # deleted right below: a crash before that just re-exits it
        else:
            await self.store.save(c)
            await asyncio.to_thread(shutil.rmtree, self._tasks.state_dir(cid), True)
        if status.oom_killed:
            self._publish(c, "oom")
        self._publish(c, "die", exitCode=str(status.exit_code))
        self._waiters.exited(cid, status.exit_code)
        if again:
            ran_for = status.finished_at - clock.parse(c.state.started_at)
            self._restarts.schedule(cid, self._restarts.next_delay(cid, ran_for))
        return c, again

    async def _backoff_over(self, cid: str) -> None:
        # a stop or kill that came while this waited for the lock made it exited
        await self._auto_restart(cid, only_if=Status.RESTARTING)

    async def _auto_restart(self, cid: str, only_if: Status | None = None) -> None:
        """A restart policy's start (after the backoff, or at daemon start). If it fails
        the container stays exited, as docker leaves it."""
        try:
            await self.start(cid, manual=False, only_if=only_if)
        except (NotModified, NotFound):
            return  # started by hand meanwhile, or removed
        except BerthError as err:
            log.warning("restart of container %s failed: %s", cid[:12], err.message)
        with contextlib.suppress(NotFound):
            # under the lock and read again inside it: a start by hand that won the race
            # must not be overwritten by this stale "restarting"
            async with self._locks[cid]:
                c = self.get(cid)
                if c.state.status == Status.RESTARTING:
                    await self.store.save(c.with_state(status=Status.EXITED))

    async def _cancel_restart(self, ref: str) -> bool:
        """Stop/kill of a container in its restart backoff: cancel the restart and record
        it as exited and manually stopped (True). Under the container's lock, so a restart
        that is already starting it finishes first; then it is running and the caller
        signals it like any other (False)."""
        if self.get(ref).state.status != Status.RESTARTING:
            return False
        async with self._locks[self.get(ref).id]:
            c = self.get(ref)
            if c.state.status != Status.RESTARTING:
                return False
            self._restarts.cancel(c.id)
            await self.store.save(
                replace(c.with_state(status=Status.EXITED), manually_stopped=True))
            return True

    def _health_changed(self, cid: str, h: Health) -> None:
        with contextlib.suppress(NotFound):
            self._publish(self.get(cid), f"health_status: {h.status}")

    # ── signals ───────────────────────────────────────────────────────────────────────

    async def kill(self, ref: str, sig: str = "SIGKILL") -> None:
        number = signals.parse(sig or "SIGKILL")
        if await self._cancel_restart(ref):
            self._publish(self.get(ref), "kill", signal=str(number))
            return
        c = self.get(ref)
        final = number in (_signal.SIGKILL, await self._stop_signal(c))
        stopping = await self._stopping(c.id, exit_on_next=final)
        if stopping is None:
            if await self._exit_settled(c.id):
                return await self.kill(ref, sig)  # now restarting (or exited)
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        task, exited = stopping
        await self._signal(c.id, task, number)
        self._publish(c, "kill", signal=str(number))
        if number == _signal.SIGKILL:
            # moby's Kill: a SIGKILL returns once the container has stopped, so that an
            # rm right after it finds it exited; other signals return at once.
            try:
                await asyncio.wait_for(asyncio.shield(exited), KILL_WAIT)
            except TimeoutError:
                raise RuntimeFailure("tried to kill container, but did not receive an exit "
                                     "event") from None

    async def _stopping(self, cid: str, exit_on_next: bool
                        ) -> tuple[Task, asyncio.Future[int]] | None:
        """An API stop or kill is about to signal ``cid``: under its lock (an exit being
        recorded meanwhile would otherwise be overwritten by this save), mark it manually
        stopped and, with ``exit_on_next``, not to be restarted after this exit. Returns
        the live task and a future for the exit, or None when the task is gone."""
        async with self._locks[cid]:
            task = self._tasks.get(cid)
            if task is None:
                return None
            if exit_on_next:
                self._exit_on_next.add(cid)
            await self.store.save(replace(self.get(cid), manually_stopped=True))
            return task, self._waiters.on_exit(cid)

    async def stop(self, ref: str, timeout: int | None = None, sig: str = "") -> None:
        if await self._cancel_restart(ref):
            self._publish(self.get(ref), "stop")
            return
        c = self.get(ref)
        stop_signal = signals.parse(sig) if sig else await self._stop_signal(c)
        stopping = await self._stopping(c.id, exit_on_next=True)
        if stopping is None:
            if await self._exit_settled(c.id):
                return await self.stop(ref, timeout, sig)  # now restarting (or exited)
            raise NotModified("container already stopped")
        task, waiter = stopping
        await self._stop_process(c.id, task, stop_signal, _grace(c, timeout), waiter)
        self._publish(c, "stop")

    async def restart(self, ref: str, timeout: int | None = None, sig: str = "") -> None:
        """``docker restart``: stop it if it runs (as ``stop`` does), then start it, as
        one operation under the container's lock, so no start, stop, restart policy or
        removal gets in between. The lock is held across the exit the stop causes: the
        monitor hands that exit over and this records it (``_stop_locked``)."""
        c = self.get(ref)
        stop_signal = signals.parse(sig) if sig else await self._stop_signal(c)
        async with self._locks[c.id]:
            if self.get(c.id).state.running:
                await self._stop_locked(c.id, stop_signal, _grace(c, timeout))
            c, failure = await self._start_locked(c.id, manual=True)
        await self._started(c, failure)
        self._publish(c, "restart")  # after start, as moby's daemon/restart.go

    async def _stop_locked(self, cid: str, sig: int, grace: float) -> None:
        """A restart's stop, under the container's lock: signal, take the exit its
        monitor hands over (SIGKILL after ``grace``) and record it."""
        seen = self._tasks.seen(cid)
        task = self._tasks.get(cid)
        if task is not None:
            await self._stop_process(cid, task, sig, grace, seen)
        else:  # it exited: its monitor is handing the exit over
            try:
                await asyncio.wait_for(asyncio.shield(seen), EXIT_RECORD_WAIT)
            except TimeoutError:
                raise Conflict(f"cannot restart container {cid}: its exit was never "
                               "recorded") from None
        c, _ = await self._record_seen(cid, restarting=True)
        self._publish(c, "stop")

    async def _stop_process(self, cid: str, task: Task, sig: int, grace: float,
                            exited: asyncio.Future[Any]) -> None:
        """Signal, give the process ``grace`` seconds (negative: forever), then SIGKILL;
        return once ``exited`` is done."""
        await self._signal(cid, task, sig)
        self._publish(self.get(cid), "kill", signal=str(sig))  # one per signal, as moby
        if grace < 0:
            await exited
            return
        try:
            await asyncio.wait_for(asyncio.shield(exited), grace)
        except TimeoutError:
            await task.kill(_signal.SIGKILL)
            self._publish(self.get(cid), "kill", signal=str(int(_signal.SIGKILL)))
            await exited

    async def _stop_signal(self, c: Container) -> int:
        image = await self._images.get(c.image_id)
        return signals.parse(c.spec.stop_signal
                             or image.config.get("config", {}).get("StopSignal") or "SIGTERM")

    async def _signal(self, cid: str, task: Task, number: int) -> None:
        """Signal init; a paused container is thawed after the signal is queued, as moby
        does, since a frozen process acts on no signal (not even SIGKILL on cgroup v1)."""
        await task.kill(number)
        if self.get(cid).state.status == Status.PAUSED:
            await self._resume(cid, task)

    # ── pause, resize ────────────────────────────────────────────────────────────────

    def data_dir(self, cid: str) -> Path:
        """``<data-root>/containers/<id>``: the container's files (logs, hosts...)."""
        return self._opts.data_root / "containers" / cid

    def running_task(self, ref: str) -> tuple[Container, Task]:
        """The container and its task, or docker's 409 when it is not running."""
        c = self.get(ref)
        task = self._tasks.get(c.id)
        if task is None or not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        return c, task

    async def pause(self, ref: str) -> None:
        c, task = self.running_task(ref)
        async with self._locks[c.id]:
            c, task = self.running_task(c.id)
            if c.state.status == Status.PAUSED:
                raise Conflict(f"Container {c.id} is already paused")
            await task.pause()
            c = self.get(c.id)
            if c.state.status == Status.RUNNING:  # it may have exited meanwhile
                c = await self.store.save(c.with_state(status=Status.PAUSED))
        self._publish(c, "pause")

    async def unpause(self, ref: str) -> None:
        c = self.get(ref)
        async with self._locks[c.id]:
            c = self.get(c.id)
            if c.state.status != Status.PAUSED:
                raise Conflict(f"Container {c.id} is not paused")
            await self._resume(c.id, self.running_task(c.id)[1])

    async def _resume(self, cid: str, task: Task) -> None:
        # Conflict: the shim thawed it already (it does for SIGKILL) or has exited.
        with contextlib.suppress(Conflict):
            await task.resume()
        c = self.get(cid)
        if c.state.status == Status.PAUSED:
            c = await self.store.save(c.with_state(status=Status.RUNNING))
            self._publish(c, "unpause")

    async def resize(self, ref: str, height: int, width: int) -> None:
        c, task = self.running_task(ref)
        if not c.spec.tty:
            raise Conflict(f"Container {c.id} has no TTY: only a container created with a "
                           "TTY (-t) can be resized")
        await task.resize(height, width)
        self._publish(c, "resize", height=str(height), width=str(width))

    # ── wait, attach ─────────────────────────────────────────────────────────────────

    def waiter(self, ref: str, condition: str = "not-running") -> asyncio.Future[int]:
        """A future for the exit code; created now so no exit between this call and the
        await is missed (docker's CLI registers its wait before it starts a container)."""
        return self._waiters.on_condition(self.get(ref), condition)

    async def attach(self, ref: str, req: AttachRequest) -> Streams:
        c = self.get(ref)
        self._publish(c, "attach")
        task = self._tasks.get(c.id)
        if task is not None:
            return await task.attach(req.stdin, req.stdout, req.stderr)
        return await self._waiters.attach_after_start(c.id, req)

    # ── remove ───────────────────────────────────────────────────────────────────────

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """``volumes``: its anonymous volumes go too (``rm -v``; a --rm container's
        always do, as docker's)."""
        c = self.get(ref)
        if c.state.status == Status.RESTARTING and not force:
            raise Conflict(
                f'cannot remove container "/{c.name}": container is restarting: stop the '
                "container before removing or force remove")
        self._restarts.forget(c.id)
        while True:
            c = self.get(c.id)
            if c.state.running:
                if not force:
                    raise Conflict(
                        f'cannot remove container "/{c.name}": container is running: stop '
                        "the container before removing or force remove")
                task = self._tasks.get(c.id)
                if task is None:  # it exited; the exit is being recorded
                    if not await self._exit_recorded(c.id):
                        raise Conflict(f'cannot remove container "/{c.name}": its exit '
                                       "was never recorded")
                    continue
                waiter = self._waiters.on_exit(c.id)
                await self._signal(c.id, task, _signal.SIGKILL)
                await waiter
                continue
            async with self._locks[c.id]:  # a restart policy's start may hold it
                c = self.get(c.id)
                if c.state.running:
                    continue  # that restart won the race: kill it first
                if c.state.status == Status.REMOVING:
                    return  # another request is removing it
                await self._finish_remove(self.store.hold(c.with_state(status=Status.REMOVING)),
                                          volumes or c.spec.auto_remove)
                return

    async def _finish_remove(self, c: Container, volumes: bool = False) -> None:
        """Delete the record first: that is the commit point. The files and (``volumes``)
        the anonymous volumes go after, and only then are waiters (``docker run --rm``
        waits for it) answered; a crash in between
        leaves only files that no record owns, which ``restore`` prunes at the next start.
        The prepare hooks release first, while the record still says removing (a crash
        there is finished by ``restore``, and release is idempotent)."""
        await self._tasks.release(c)
        await self.store.delete(c.id)
        self.health.forget(c.id)
        self._locks.pop(c.id, None)
        self._publish(c, "destroy")
        try:
            await self._images.remove_rootfs(c.id)
            await asyncio.to_thread(_remove_dirs, self._opts.data_root / "containers" / c.id,
                                    self._tasks.state_dir(c.id))
            await self._tasks.removed(c, volumes)
        finally:  # as docker's SetRemoved after removeMountPoints: a `run --rm` returns
            # once its anonymous volumes are gone
            self._waiters.removed(c.id, c.state.exit_code)

    # ── helpers ──────────────────────────────────────────────────────────────────────

    def bundle_dir(self, cid: str) -> Path:
        """Where the running container's ``config.json`` is (an exec's base)."""
        return self._tasks.state_dir(cid)

    def publish(self, c: Container, action: str, **extra: str) -> None:
        """A container event with docker's attributes (name, image, labels)."""
        self._publish(c, action, **extra)

    def _publish(self, c: Container, action: str, **extra: str) -> None:
        attrs = {"name": c.name, "image": c.spec.image, **dict(c.labels), **extra}
        self._events.publish(Event("container", action, c.id, tuple(attrs.items())))


def _remove_dirs(*dirs: Path) -> None:
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def _grace(c: Container, timeout: int | None) -> int:
    """Seconds a stop waits before SIGKILL: the request's, the container's, or 10."""
    if timeout is not None:
        return timeout
    return c.spec.stop_timeout if c.spec.stop_timeout is not None else 10
