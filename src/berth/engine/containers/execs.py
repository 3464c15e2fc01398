"""Exec: run another process in a running container (moby's ``daemon/exec.go``).

An exec is a record in memory only, as in moby: it lives while its container runs and is
forgotten once the container stops. Its process is the container's own OCI process
(capabilities, rlimits, no-new-privileges, from the bundle's ``config.json``) with the
exec's argv, env, user, cwd and terminal laid over it::

    create: validate (running, not paused) ─▶ record (ExitCode null) ─▶ exec_create event
    start:  task.exec_create ─▶ task.attach (unless detached) ─▶ task.exec_start ─▶ pid
            monitor: task.exec_wait ─▶ record ExitCode ─▶ exec_die ─▶ wake waiters

A client reading the attach stream inspects the exec when its output ends (docker's CLI and
docker-py both do), so the API waits for ``exited`` before it closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import secrets
import signal
from dataclasses import dataclass, replace
from pathlib import Path

from berth.engine.containers import process, security
from berth.engine.containers.bundle import read_spec
from berth.engine.containers.model import Container, Status
from berth.engine.containers.service import ContainerService
from berth.engine.containers.waiters import Streams
from berth.engine.images.service import ImageService
from berth.errors import BerthError, Conflict, InvalidArgument, NotFound, RuntimeFailure
from berth.formats.stdcopy import FrameDecoder
from berth.oci import spec as oci
from berth.oci.mount import Mount
from berth.runtime.task import Task
from berth.store.rootview import LayerTree

log = logging.getLogger(__name__)

HEALTH_OUTPUT_LIMIT = 4096  # moby's maxOutputLen for a health probe's output
_RESIZE_WAIT = 10.0  # moby waits this long for an exec to start before resizing it
_GONE_EXIT_CODE = 137  # an exec dies with its container's pid namespace: SIGKILL


@dataclass(frozen=True)
class ExecSpec:
    """What ``POST /containers/{id}/exec`` asks for."""

    cmd: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    working_dir: str = ""
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    detach_keys: str = ""
    privileged: bool = False
    console_size: tuple[int, int] | None = None  # (height, width)


@dataclass(frozen=True)
class Exec:
    id: str
    container_id: str
    container_started_at: str  # which run of the container it belongs to
    spec: ExecSpec
    started: bool = False
    running: bool = False
    exit_code: int | None = None  # None until it has exited
    pid: int = 0


class ExecService:
    def __init__(self, containers: ContainerService, images: ImageService) -> None:
        self._containers = containers
        self._images = images
        self._execs: dict[str, Exec] = {}
        self._started: dict[str, asyncio.Event] = {}
        self._exits: dict[str, asyncio.Future[int]] = {}
        self._monitors: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self._monitors):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ── records ──────────────────────────────────────────────────────────────────────

    async def create(self, ref: str, spec: ExecSpec) -> Exec:
        c = self._containers.get(ref)
        check_creatable(c, ref, spec)
        self._forget_stopped()
        rec = Exec(id=secrets.token_hex(32), container_id=c.id,
                   container_started_at=c.state.started_at, spec=spec)
        self._execs[rec.id] = rec
        self._started[rec.id] = asyncio.Event()
        self._exits[rec.id] = asyncio.get_running_loop().create_future()
        self._containers.publish(c, f"exec_create: {_command(spec)}", execID=rec.id)
        return rec

    def get(self, exec_id: str) -> Exec:
        rec = self._execs.get(exec_id)
        if rec is None or not self._alive(rec):
            self._drop(exec_id)
            raise NotFound(f"No such exec instance: {exec_id}")
        return rec

    def ids_for(self, container_id: str) -> list[str]:
        return [r.id for r in self._execs.values()
                if r.container_id == container_id and self._alive(r)]

    def check_startable(self, rec: Exec) -> None:
        if rec.exit_code is not None:
            raise Conflict(f"Error: Exec command {rec.id} has already run")
        if rec.started:
            raise Conflict(f"Error: Exec command {rec.id} is already running")

    def _alive(self, rec: Exec) -> bool:
        """An exec belongs to one run of its container (moby deletes them at its exit)."""
        try:
            c = self._containers.get(rec.container_id)
        except NotFound:
            return False
        return c.state.running and c.state.started_at == rec.container_started_at

    def _forget_stopped(self) -> None:
        for rec in [r for r in self._execs.values() if not self._alive(r)]:
            self._drop(rec.id)

    def _drop(self, exec_id: str) -> None:
        self._execs.pop(exec_id, None)
        self._started.pop(exec_id, None)
        fut = self._exits.pop(exec_id, None)
        if fut is not None and not fut.done():
            fut.set_result(_GONE_EXIT_CODE)

    # ── start, wait, resize ──────────────────────────────────────────────────────────

    async def start(self, exec_id: str, attach: bool,
                    console_size: tuple[int, int] | None = None) -> Streams | None:
        """Start the exec; with ``attach``, return its streams (connected before the
        process runs, so no output is lost). Raises Conflict when it was started before,
        RuntimeFailure (exit code recorded as docker's 126/127) when it cannot run."""
        rec = self.get(exec_id)
        self.check_startable(rec)
        rec = self._update(rec, started=True)  # before any await: one start wins
        try:
            c, task = self._containers.running_task(rec.container_id)
            mounts = await self._images.rootfs_mounts(c.id)
            proc = await asyncio.to_thread(
                _exec_process, c, self._containers.bundle_dir(c.id), rec.spec, mounts,
                console_size or rec.spec.console_size)
            await task.exec_create(rec.id, proc, rec.spec.tty, rec.spec.attach_stdin)
            streams = None
            if attach:
                streams = await task.attach(rec.spec.attach_stdin, rec.spec.attach_stdout,
                                            rec.spec.attach_stderr, exec_id=rec.id)
            try:
                pid = await task.exec_start(rec.id)
            except BaseException:
                if streams is not None:
                    streams[1].close()
                raise
        except BerthError as err:
            self._finish(rec, process.start_failure_code(err.message, default=126))
            raise
        rec = self._update(rec, running=True, pid=pid)
        self._started[rec.id].set()
        self._containers.publish(c, f"exec_start: {_command(rec.spec)}", execID=rec.id)
        monitor = asyncio.create_task(self._monitor(rec, task), name=f"exec-{rec.id[:12]}")
        self._monitors.add(monitor)
        monitor.add_done_callback(self._monitors.discard)
        return streams

    async def _monitor(self, rec: Exec, task: Task) -> None:
        try:
            code = await task.exec_wait(rec.id)
        except (BerthError, OSError) as err:
            log.info("exec %s: its shim is gone (%s)", rec.id[:12], err)
            code = _GONE_EXIT_CODE
        self._finish(self._execs.get(rec.id, rec), code)
        with contextlib.suppress(NotFound):
            self._containers.publish(self._containers.get(rec.container_id), "exec_die",
                                     execID=rec.id, exitCode=str(code))

    def _finish(self, rec: Exec, code: int) -> None:
        if rec.id in self._execs:
            self._update(rec, running=False, exit_code=code)
        fut = self._exits.get(rec.id)
        if fut is not None and not fut.done():
            fut.set_result(code)
        started = self._started.get(rec.id)
        if started is not None:
            started.set()

    def _update(self, rec: Exec, **changes: object) -> Exec:
        rec = replace(self._execs.get(rec.id, rec), **changes)  # type: ignore[arg-type]
        self._execs[rec.id] = rec
        return rec

    async def exited(self, exec_id: str) -> int:
        """The exit code, once the exec has exited."""
        fut = self._exits.get(exec_id)
        if fut is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return await asyncio.shield(fut)

    def detached(self, exec_id: str) -> None:
        rec = self._execs.get(exec_id)
        if rec is not None:
            with contextlib.suppress(NotFound):
                self._containers.publish(self._containers.get(rec.container_id),
                                         "exec_detach", execID=exec_id)

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        rec = self.get(exec_id)
        if not rec.spec.tty:
            raise Conflict(f"exec {exec_id} has no TTY: only an exec created with a TTY (-t) "
                           "can be resized")
        try:
            await asyncio.wait_for(self._started[exec_id].wait(), _RESIZE_WAIT)
        except TimeoutError:
            raise BerthError("timeout waiting for exec session ready") from None
        rec = self.get(exec_id)
        if not rec.running:
            if rec.exit_code is None:
                raise InvalidArgument("exec process is not started")
            return  # exited: nothing left to resize (containerd ignores it too)
        _, task = self._containers.running_task(rec.container_id)
        await task.exec_resize(exec_id, height, width)

    # ── health checks ────────────────────────────────────────────────────────────────

    async def run_captured(self, container_ref: str, argv: list[str],
                           timeout: float) -> tuple[int, bytes]:
        """Run ``argv`` in the container with no client, as a health probe: (exit code,
        the first 4096 bytes of stdout+stderr). On timeout the process is killed and the
        result is moby's (-1, "Health check exceeded timeout (30s)"); a process that cannot
        start gives (-1, the runtime's message), as moby's probe does."""
        rec = await self.create(container_ref, ExecSpec(
            cmd=tuple(argv), attach_stdout=True, attach_stderr=True))
        try:
            streams = await self.start(rec.id, attach=True)
        except RuntimeFailure as err:
            return -1, err.message.encode()
        assert streams is not None
        reader, writer = streams
        output = bytearray()

        async def collect() -> int:
            decoder = FrameDecoder()
            while data := await reader.read(65536):
                for _, payload in decoder.feed(data):
                    output.extend(payload[:HEALTH_OUTPUT_LIMIT - len(output)])
            return await self.exited(rec.id)

        try:
            return await asyncio.wait_for(collect(), timeout), bytes(output)
        except TimeoutError:
            await self._kill(rec.id)
            return -1, f"Health check exceeded timeout ({go_duration(timeout)})".encode()
        finally:
            writer.close()

    async def _kill(self, exec_id: str) -> None:
        rec = self._execs.get(exec_id)
        if rec is None or not rec.running or rec.pid <= 0:
            return
        # The pid is live until exec_wait reports its exit, which we have not seen yet,
        # so it cannot have been reused.
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.exited(exec_id), 5)


def _command(spec: ExecSpec) -> str:
    """moby's event text: entrypoint, a space, the arguments (so "ls " for bare ls)."""
    return f"{spec.cmd[0]} {' '.join(spec.cmd[1:])}"


def check_creatable(c: Container, ref: str, spec: ExecSpec) -> None:
    """docker's refusals of an exec create: a paused or stopped container, no command."""
    if c.state.status == Status.PAUSED:
        raise Conflict(f"Container {ref} is paused, unpause the container before exec")
    if not c.state.running:
        raise Conflict(f"Container {c.id} is not running")
    if spec.privileged:
        raise InvalidArgument("privileged exec is not supported")
    if not spec.cmd:
        raise InvalidArgument("No exec command specified")



def _exec_process(c: Container, bundle: Path, spec: ExecSpec, mounts: list[Mount],
                  console_size: tuple[int, int] | None) -> oci.Process:
    """The container's OCI process with the exec's argv, env, user, cwd and terminal
    (moby starts from the container's spec.Process the same way). Runs in a thread."""
    try:
        base = read_spec(bundle)["process"]
    except (OSError, KeyError, ValueError) as err:
        raise Conflict(f"Container {c.id} is not running") from err
    rootfs = LayerTree.from_mounts(mounts)
    uid, gid, gids = process.resolve_user(spec.user or c.user, rootfs)
    added = security.additional_groups(c.spec.security.group_add, rootfs)  # --group-add
    gids = (*gids, *(g for g in added if g not in gids))
    proc = copy.deepcopy(base)
    proc["args"] = list(spec.cmd)
    # the started process's env: the container's and what its start added (link vars)
    proc["env"] = _environment(tuple(base.get("env", ())), spec.env, spec.tty)
    proc["cwd"] = process.working_dir(spec.working_dir, {"WorkingDir": c.working_dir})
    proc["user"] = {"uid": uid, "gid": gid, "additionalGids": list(gids)}
    proc["terminal"] = spec.tty
    proc.pop("consoleSize", None)
    if spec.tty and console_size and all(console_size):
        proc["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    return proc


def _environment(container_env: tuple[str, ...], exec_env: tuple[str, ...],
                 tty: bool) -> list[str]:
    """TERM=xterm for a tty, then the container's env, then the exec's, keyed by name
    (moby's CreateDaemonEnvironment + ReplaceOrAppendEnvValues)."""
    merged: dict[str, str] = {}
    for item in [*(["TERM=xterm"] if tty else []), *container_env, *exec_env]:
        merged[item.split("=", 1)[0]] = item
    return process.process_env(list(merged.values()))


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() for the durations a health check uses."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}µs"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text
