"""The container service: create, start, stop, kill, wait, attach and remove.

The daemon holds one ``Shim`` handle per running container and one monitor task that
awaits its exit; every state change is saved before it is published. Waiters and attach
requests that arrive before a start are parked and served in start's critical window::

    start: spawn shim (init blocked) ─▶ connect parked attaches ─▶ shim.start() ─▶ running
    monitor: shim.wait() ─▶ save exited state ─▶ wake waiters ─▶ auto-remove
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import secrets
import shutil
import signal as _signal
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from berth.engine import clock
from berth.engine.containers import health, logs, names, process, restart, signals
from berth.engine.containers.bundle import add_init, write_bundle, write_etc_files
from berth.engine.containers.model import Container, ContainerSpec, Health, Status
from berth.engine.containers.store import ContainerStore
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
from berth.oci.mount import Mount
from berth.oci.spec import Seccomp
from berth.runtime import spec as runtime_spec
from berth.runtime.linux.cgroups import open_manager
from berth.runtime.shim import ExitStatus, ShimOptions
from berth.runtime.shim.client import Shim, ShimDied, ShimManager, read_exit_status
from berth.store.rootview import LayerTree

log = logging.getLogger(__name__)

RUNTIMES = ("native", "runc", "crun")
MIN_MEMORY = 6 * 1024 * 1024
KILL_WAIT = 10.0  # moby's Kill: how long a SIGKILL waits for the exit
SHIM_DIED_EXIT = 137  # a container whose shim died is killed: containerd reports 128+9
SHIM_DIED = "the container's shim died (killed or crashed), so the container was killed"


@dataclass(frozen=True)
class ServiceOptions:
    data_root: Path
    exec_root: Path
    default_runtime: str = "native"
    cgroup_parent: str = "berth"


class ContainerService:
    def __init__(self, opts: ServiceOptions, store: ContainerStore, images: ImageService,
                 shims: ShimManager, events: EventBus) -> None:
        self._opts = opts
        self.store = store
        self._images = images
        self._shims = shims
        self._events = events
        self._live: dict[str, Shim] = {}
        self._monitors: dict[str, asyncio.Task[None]] = {}
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
            if c.state.running:
                await self._reattach(c)
            else:
                await self._reap_orphan_shim(self._state_dir(c.id))
        known = {c.id for c in containers}
        for state_dir in await asyncio.to_thread(_children, self._opts.exec_root / "containers"):
            if state_dir.name not in known:
                await self._reap_orphan_shim(state_dir)
        for data_dir in await asyncio.to_thread(_children, self._opts.data_root / "containers"):
            if data_dir.name not in known:
                await asyncio.to_thread(shutil.rmtree, data_dir, True)
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

    async def _reattach(self, c: Container) -> None:
        shim = await self._shims.connect(self._state_dir(c.id))
        if shim is not None:
            log.info("restored container %s (pid %d)", c.id[:12], shim.init_pid)
            self._watch(c.id, shim)
            self.health.start(c)
            return
        status = read_exit_status(self._state_dir(c.id))
        if status is None:  # its shim died while no daemon watched
            await self._record_exit(c.id, await self._shim_died(c.id), SHIM_DIED)
        else:
            await self._record_exit(c.id, status)

    async def _reap_orphan_shim(self, state_dir: Path) -> None:
        shim = await self._shims.connect(state_dir)
        if shim is not None:
            log.warning("killing container %s: its start was never recorded", state_dir.name)
            await shim.kill(_signal.SIGKILL)
            await shim.wait()
            await shim.close()
        await asyncio.to_thread(shutil.rmtree, state_dir, True)

    async def close(self) -> None:
        """Stop watching; the shims and their containers keep running."""
        await self._restarts.close()
        await self.health.close()
        for task in self._monitors.values():
            task.cancel()
        for task in list(self._monitors.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for shim in self._live.values():
            await shim.close()
        # the --cgroup-parent goes with the daemon unless containers still run in it
        parent = open_manager(f"/{self._opts.cgroup_parent}")
        try:
            await asyncio.to_thread(parent.release)
        except OSError as err:
            log.warning("cannot remove cgroup parent %s: %s", self._opts.cgroup_parent, err)

    # ── create, inspect ───────────────────────────────────────────────────────────────

    async def create(self, name: str | None, spec: ContainerSpec) -> Container:
        name = names.validate(name) if name else self._free_name()
        runtime = spec.runtime or self._opts.default_runtime
        if runtime not in RUNTIMES and not runtime.startswith("/"):
            raise InvalidArgument(f"unknown or invalid runtime name: {runtime}")
        if 0 < spec.resources.memory < MIN_MEMORY:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        if spec.stop_signal:
            signals.parse(spec.stop_signal)
        restart.validate(spec.restart_policy, spec.auto_remove)
        logs.validate_config(spec.log_config)
        health.validate(spec.healthcheck)
        image = await self._images.get(spec.image)
        cfg = image.config.get("config", {})
        spec = replace(spec, healthcheck=health.merge(
            spec.healthcheck, health.from_image(cfg.get("Healthcheck"))))
        argv = process.command(spec.entrypoint, spec.cmd, cfg)
        cid = secrets.token_hex(32)
        hostname = spec.hostname or cid[:12]
        data_dir = self._opts.data_root / "containers" / cid
        container = Container(
            id=cid, name=name, created=clock.rfc3339(), spec=spec, image_id=image.id,
            path=argv[0], args=argv[1:],
            cmd=spec.cmd if spec.cmd is not None or spec.entrypoint is not None
            else _tuple(cfg.get("Cmd")),
            entrypoint=spec.entrypoint if spec.entrypoint is not None
            else _tuple(cfg.get("Entrypoint")),
            labels=tuple({**(cfg.get("Labels") or {}), **dict(spec.labels)}.items()),
            env=process.environment(cfg, spec.env, hostname, spec.tty),
            working_dir=process.working_dir(spec.working_dir, cfg),
            user=spec.user or cfg.get("User", ""), hostname=hostname, runtime=runtime,
            log_path=str(data_dir / f"{cid}-json.log")
            if spec.log_config.type != "none" else "",
        )
        await self._images.prepare_rootfs(image.id, cid)
        try:
            await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
            await self.store.insert(container)
        except BaseException:
            await self._images.remove_rootfs(cid)
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

    # ── start and exit ────────────────────────────────────────────────────────────────

    async def start(self, ref: str, *, manual: bool = True, only_if: Status | None = None
                    ) -> None:
        """Start ``ref``; ``manual`` (an API start, not a restart policy's) also resets
        RestartCount, the backoff and the manual stop, as docker's start does. With
        ``only_if``, start only a container in that state (else NotModified)."""
        c = self.get(ref)
        failure: RuntimeFailure | None = None
        async with self._locks[c.id]:
            c = self.get(c.id)
            if c.state.running:
                raise NotModified("container already started")
            if only_if is not None and c.state.status != only_if:
                raise NotModified(f"container is {c.state.status.value}, not "
                                  f"{only_if.value}")
            if manual:
                self._restarts.forget(c.id)
                c = replace(c, restart_count=0, manually_stopped=False)
            self._exit_on_next.discard(c.id)
            if c.state.status in (Status.REMOVING, Status.DEAD):
                raise Conflict(f"cannot start container {c.id}: it is being removed")
            try:
                shim = await self._spawn(c)
            except RuntimeFailure as err:
                await self._start_failed(c, err)
                failure = err
            except (BerthError, OSError) as err:  # nothing runs: parked attaches hear why
                self._waiters.fail(c.id, err)
                raise
            else:
                await self._waiters.connect(c.id, shim)
                await shim.start()
                c = c.with_state(status=Status.RUNNING, pid=shim.init_pid, exit_code=0,
                                 error="", oom_killed=False, started_at=clock.rfc3339())
                await self.store.save(c)
                self._watch(c.id, shim)
                self.health.start(c)
        if failure is not None:  # outside the lock: remove() takes it
            if c.spec.auto_remove:
                await self.remove(c.id, force=True)
            raise failure
        self._publish(c, "start")

    async def _spawn(self, c: Container) -> Shim:
        mounts = await self._images.rootfs_mounts(c.id)
        state_dir = self._state_dir(c.id)
        # All the blocking work in one hop: each to_thread is a thread handoff.
        await asyncio.to_thread(self._write_bundle, c, mounts, state_dir)
        return await self._shims.create(ShimOptions(
            container_id=c.id, bundle=state_dir, rootfs_mounts=tuple(mounts),
            state_dir=state_dir, log_path=Path(c.log_path) if c.log_path else None,
            runtime=c.runtime, tty=c.spec.tty, open_stdin=c.spec.open_stdin,
            stdin_once=c.spec.stdin_once, log_options=c.spec.log_config.options))

    def _write_bundle(self, c: Container, mounts: builtins.list[Mount], state_dir: Path
                      ) -> None:
        """Resolve the user in the image, write /etc files and config.json (in a thread)."""
        rootfs = LayerTree.from_mounts(mounts)
        uid, gid, gids = process.resolve_user(c.user, rootfs)
        process.make_workdir(rootfs, c.working_dir)
        binds = write_etc_files(self._opts.data_root / "containers" / c.id, c.hostname)
        res = c.spec.resources
        spec = runtime_spec.build(runtime_spec.SpecOptions(
            rootfs=state_dir / "rootfs", args=(c.path, *c.args),
            env=tuple(process.process_env(c.env)), console_size=c.spec.console_size,
            cwd=c.working_dir, uid=uid, gid=gid, additional_gids=gids, hostname=c.hostname,
            terminal=c.spec.tty, cgroups_path=self.cgroups_path(c.id),
            memory=res.memory, memory_swap=res.memory_swap,
            memory_reservation=res.memory_reservation, cpu_shares=res.cpu_shares,
            cpu_quota=res.cpu_quota or res.nano_cpus * 100_000 // 1_000_000_000,
            cpu_period=res.cpu_period, pids_limit=res.pids_limit,
            readonly_rootfs=c.spec.readonly_rootfs, bind_files=tuple(binds),
            extra_mounts=c.spec.extra_mounts, seccomp=_default_seccomp(),
        ))
        if c.spec.init:
            add_init(spec)
        write_bundle(state_dir, spec)

    async def _start_failed(self, c: Container, err: RuntimeFailure) -> None:
        msg = err.message
        code = 128
        if "executable file not found" in msg or "no such file or directory" in msg:
            code = 127
        elif "permission denied" in msg or "is a directory" in msg:
            code = 126
        c = c.with_state(exit_code=code, error=msg)
        await self.store.save(c)
        self._publish(c, "die", exitCode=str(code))
        self._waiters.exited(c.id, code)
        self._waiters.fail(c.id, Conflict(f"container {c.id} failed to start: {msg}"))
        await asyncio.to_thread(shutil.rmtree, self._state_dir(c.id), True)

    def _watch(self, cid: str, shim: Shim) -> None:
        self._live[cid] = shim
        self._monitors[cid] = asyncio.create_task(self._monitor(cid, shim),
                                                  name=f"monitor-{cid[:12]}")

    async def _monitor(self, cid: str, shim: Shim) -> None:
        error = ""
        try:
            status = await shim.wait()
        except ShimDied as err:  # the wait's connection closed with the shim
            log.error("container %s: %s", cid[:12], err.message)
            status, error = await self._shim_died(cid), SHIM_DIED
        self._monitors.pop(cid, None)
        self._live.pop(cid, None)
        await shim.close()
        await self._record_exit(cid, status, error)

    async def _shim_died(self, cid: str) -> ExitStatus:
        """The shim of ``cid`` died without recording its exit (killed, or crashed): kill
        what is left of the container through its cgroup and delete it from its runtime,
        so that it can be recorded exited and removed, and nothing of it stays behind."""
        try:
            await asyncio.to_thread(open_manager(self.cgroups_path(cid)).destroy)
            await self._shims.reap(self._state_dir(cid))
        except (OSError, BerthError) as err:
            log.error("container %s: cleaning up after its shim failed: %s", cid[:12], err)
        return ExitStatus(SHIM_DIED_EXIT, False, time.time())

    async def _record_exit(self, cid: str, status: ExitStatus, error: str = "") -> None:
        """Record the exit (under the container's lock, so a stop, kill or start waits
        for the outcome: exited, or restarting with its backoff scheduled)."""
        async with self._locks[cid]:
            c, again = await self._exited(cid, status, error)
        if c.spec.auto_remove and not again:
            await self.remove(cid, force=True)

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
            await asyncio.wait_for(self._waiters.on_exit(cid), 10)
        except TimeoutError:
            return False
        return True

    async def _exited(self, cid: str, status: ExitStatus, error: str
                      ) -> tuple[Container, bool]:
        self.health.stop(cid)
        c = self.get(cid)
        again = cid not in self._exit_on_next and restart.should_restart(
            c.spec.restart_policy, status.exit_code, c.manually_stopped, c.restart_count)
        self._exit_on_next.discard(cid)
        c = c.with_state(status=Status.RESTARTING if again else Status.EXITED, pid=0,
                         exit_code=status.exit_code, oom_killed=status.oom_killed,
                         finished_at=clock.rfc3339(status.finished_at), error=error)
        if again:
            c = replace(c, restart_count=c.restart_count + 1)
        if c.spec.auto_remove and not again:
            self.store.hold(c)  # deleted right below: a crash before that just re-exits it
        else:
            await self.store.save(c)
            await asyncio.to_thread(shutil.rmtree, self._state_dir(cid), True)
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
        shim, exited = stopping
        await self._signal(c.id, shim, number)
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
                        ) -> tuple[Shim, asyncio.Future[int]] | None:
        """An API stop or kill is about to signal ``cid``: under its lock (an exit being
        recorded meanwhile would otherwise be overwritten by this save), mark it manually
        stopped and, with ``exit_on_next``, not to be restarted after this exit. Returns
        the live shim and a future for the exit, or None when the shim is gone."""
        async with self._locks[cid]:
            shim = self._live.get(cid)
            if shim is None:
                return None
            if exit_on_next:
                self._exit_on_next.add(cid)
            await self.store.save(replace(self.get(cid), manually_stopped=True))
            return shim, self._waiters.on_exit(cid)

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
        shim, waiter = stopping
        grace = timeout if timeout is not None else (
            c.spec.stop_timeout if c.spec.stop_timeout is not None else 10)
        await self._signal(c.id, shim, stop_signal)
        if grace < 0:
            await waiter
        else:
            try:
                await asyncio.wait_for(asyncio.shield(waiter), grace)
            except TimeoutError:
                await shim.kill(_signal.SIGKILL)
                await waiter
        self._publish(c, "stop")

    async def _stop_signal(self, c: Container) -> int:
        image = await self._images.get(c.image_id)
        return signals.parse(c.spec.stop_signal
                             or image.config.get("config", {}).get("StopSignal") or "SIGTERM")

    async def _signal(self, cid: str, shim: Shim, number: int) -> None:
        """Signal init; a paused container is thawed after the signal is queued, as moby
        does, since a frozen process acts on no signal (not even SIGKILL on cgroup v1)."""
        await shim.kill(number)
        if self.get(cid).state.status == Status.PAUSED:
            await self._resume(cid, shim)

    # ── pause, resize ────────────────────────────────────────────────────────────────

    def running_shim(self, ref: str) -> tuple[Container, Shim]:
        """The container and its shim, or docker's 409 when it is not running."""
        c = self.get(ref)
        shim = self._live.get(c.id)
        if shim is None or not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        return c, shim

    async def pause(self, ref: str) -> None:
        c, shim = self.running_shim(ref)
        async with self._locks[c.id]:
            c, shim = self.running_shim(c.id)
            if c.state.status == Status.PAUSED:
                raise Conflict(f"Container {c.id} is already paused")
            await shim.pause()
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
            await self._resume(c.id, self.running_shim(c.id)[1])

    async def _resume(self, cid: str, shim: Shim) -> None:
        # Conflict: the shim thawed it already (it does for SIGKILL) or has exited.
        with contextlib.suppress(Conflict):
            await shim.resume()
        c = self.get(cid)
        if c.state.status == Status.PAUSED:
            c = await self.store.save(c.with_state(status=Status.RUNNING))
            self._publish(c, "unpause")

    async def resize(self, ref: str, height: int, width: int) -> None:
        c, shim = self.running_shim(ref)
        if not c.spec.tty:
            raise Conflict(f"Container {c.id} has no TTY: only a container created with a "
                           "TTY (-t) can be resized")
        await shim.resize(height, width)
        self._publish(c, "resize", height=str(height), width=str(width))

    # ── wait, attach ─────────────────────────────────────────────────────────────────

    def waiter(self, ref: str, condition: str = "not-running") -> asyncio.Future[int]:
        """A future for the exit code; created now so no exit between this call and the
        await is missed (docker's CLI registers its wait before it starts a container)."""
        c = self.get(ref)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        if condition == "removed":
            return self._waiters.on_removal(c.id)
        if condition == "not-running" and not c.state.running:
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            done.set_result(c.state.exit_code)
            return done
        return self._waiters.on_exit(c.id)

    async def attach(self, ref: str, req: AttachRequest) -> Streams:
        c = self.get(ref)
        self._publish(c, "attach")
        shim = self._live.get(c.id)
        if shim is not None:
            return await shim.attach(req.stdin, req.stdout, req.stderr)
        return await self._waiters.attach_after_start(c.id, req)

    # ── remove ───────────────────────────────────────────────────────────────────────

    async def remove(self, ref: str, force: bool = False) -> None:
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
                shim = self._live.get(c.id)
                if shim is None:  # it exited; the exit is being recorded
                    if not await self._exit_recorded(c.id):
                        raise Conflict(f'cannot remove container "/{c.name}": its exit '
                                       "was never recorded")
                    continue
                waiter = self._waiters.on_exit(c.id)
                await self._signal(c.id, shim, _signal.SIGKILL)
                await waiter
                continue
            async with self._locks[c.id]:  # a restart policy's start may hold it
                c = self.get(c.id)
                if c.state.running:
                    continue  # that restart won the race: kill it first
                if c.state.status == Status.REMOVING:
                    return  # another request is removing it
                await self._finish_remove(self.store.hold(c.with_state(status=Status.REMOVING)))
                return

    async def _finish_remove(self, c: Container) -> None:
        """Delete the record first: that is the commit point, and waiters (``docker run
        --rm`` waits for it) are answered then. The files go after; a crash in between
        leaves only files that no record owns, which ``restore`` prunes at the next start."""
        await self.store.delete(c.id)
        self.health.forget(c.id)
        self._locks.pop(c.id, None)
        self._publish(c, "destroy")
        self._waiters.removed(c.id, c.state.exit_code)
        await self._images.remove_rootfs(c.id)
        await asyncio.to_thread(_remove_dirs, self._opts.data_root / "containers" / c.id,
                                self._state_dir(c.id))

    # ── helpers ──────────────────────────────────────────────────────────────────────

    def _state_dir(self, cid: str) -> Path:
        return self._opts.exec_root / "containers" / cid

    def cgroups_path(self, cid: str) -> str:
        return f"/{self._opts.cgroup_parent}/{cid}"

    def publish(self, c: Container, action: str, **extra: str) -> None:
        """A container event with docker's attributes (name, image, labels)."""
        self._publish(c, action, **extra)

    def _publish(self, c: Container, action: str, **extra: str) -> None:
        attrs = {"name": c.name, "image": c.spec.image, **dict(c.labels), **extra}
        self._events.publish(Event("container", action, c.id, tuple(attrs.items())))


def _remove_dirs(*dirs: Path) -> None:
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def _children(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []


def _tuple(value: list[str] | None) -> tuple[str, ...] | None:
    return tuple(value) if value is not None else None


def _default_seccomp() -> Seccomp:
    """Docker's default profile. A default the user did not turn off is never dropped:
    if it cannot be loaded, the container does not start."""
    try:
        from berth.runtime.linux.seccomp import default_profile

        return default_profile()
    except (ImportError, OSError, ValueError) as err:
        raise RuntimeFailure(
            f"cannot load the default seccomp profile ({err}): refusing to start a "
            "container without it") from err
