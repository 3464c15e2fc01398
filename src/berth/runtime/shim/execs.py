"""The container's exec processes, as the shim runs them (docker's exec lifecycle)::

    exec_create ──▶ created: its AttachHub exists, so clients attach before anything runs;
       │            stdin they send is buffered
    exec_start ───▶ running: runtime.exec (pipes) or exec_with_console (a pty in the
       │            container); the process is the shim's child, pid → exec in ``_by_pid``
    reaped ───────▶ exited: drain output (EOF, or DRAIN_GRACE for escaped writers)
       ▼
    finished: exit code kept (exec_wait answers at once) until the container exits; clients
              flushed and closed. A failed start finishes with 126, as moby records it.

When the container's init exits, the kernel kills every exec with the pid namespace; the
shim reaps them (before init: init cannot finish exiting first) and ``finish_all`` closes
whatever is left. Exec output is never written to the json-file log (docker does not).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from berth.errors import Conflict, NotFound, RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import ContainerRuntime
from berth.runtime.linux.console import set_size
from berth.runtime.shim.attach import AttachHub, StdinSink
from berth.runtime.shim.loop import Connection, Loop
from berth.runtime.shim.runtimes import ConsoleRuntime
from berth.runtime.shim.streams import OutputPump, ProcessIO, open_stdio

log = logging.getLogger(__name__)

DRAIN_GRACE = 2.0
START_FAILED = 126  # moby's exit code for an exec that could not start
Reply = dict[str, Any]


class Exec:
    def __init__(self, loop: Loop, exec_id: str, process: oci.Process, tty: bool,
                 open_stdin: bool) -> None:
        self.exec_id = exec_id
        self.process: oci.Process = {**process, "terminal": tty}
        self.tty = tty
        self.open_stdin = open_stdin
        self.stdin = StdinSink(loop, None, tty) if open_stdin else None
        self.hub = AttachHub(loop, tty=tty, stdin=self.stdin, stdin_once=True)
        self.pid: int | None = None
        self.io: ProcessIO | None = None
        self.pump: OutputPump | None = None
        self.exit_code: int | None = None
        self.finished = False
        self.size: tuple[int, int] | None = None  # a resize before start applies at start
        self.waiters: list[Connection] = []
        self.timer: int | None = None


class ExecSet:
    def __init__(self, loop: Loop, container_id: str, runtime: ContainerRuntime,
                 release: Callable[[Connection, Reply], None]) -> None:
        self.loop = loop
        self.container_id = container_id
        self.runtime = runtime
        self._release = release  # answer a deferred exec_wait and serve the conn again
        self._execs: dict[str, Exec] = {}
        self._by_pid: dict[int, Exec] = {}

    @property
    def idle(self) -> bool:
        return all(ex.hub.idle for ex in self._execs.values())

    def hub(self, exec_id: str) -> AttachHub | None:
        ex = self._execs.get(exec_id)
        return None if ex is None else ex.hub

    def create(self, exec_id: str, process: oci.Process, tty: bool, open_stdin: bool) -> None:
        if exec_id in self._execs:
            raise Conflict(f"exec {exec_id} already exists")
        self._execs[exec_id] = Exec(self.loop, exec_id, process, tty, open_stdin)

    def start(self, exec_id: str) -> int:
        ex = self._get(exec_id)
        if ex.pid is not None or ex.finished:
            raise Conflict(f"exec {exec_id} has already been started")
        cid, runtime = self.container_id, self.runtime
        with_console = None
        if isinstance(runtime, ConsoleRuntime):
            console_runtime = runtime

            def with_console() -> tuple[int, int]:
                return console_runtime.exec_with_console(cid, exec_id, ex.process)
        try:
            pid, io = open_stdio(
                ex.tty, ex.open_stdin,
                lambda stdio: runtime.exec(cid, exec_id, ex.process, stdio), with_console)
        except RuntimeFailure:
            ex.exit_code = START_FAILED
            self._finish(ex)
            raise
        ex.pid, ex.io = pid, io
        self._by_pid[pid] = ex
        if io.console is not None and ex.size is not None:
            set_size(io.console, *ex.size)
        if ex.stdin is not None and io.stdin is not None:
            ex.stdin.set_fd(io.stdin)
        ex.pump = OutputPump(self.loop, io, ex.hub, None, lambda: self._on_drained(ex))
        return pid

    def wait(self, exec_id: str, conn: Connection) -> Reply | None:
        """The exit code now, or None: ``release`` answers ``conn`` when it finishes."""
        ex = self._get(exec_id)
        if ex.finished:
            return _result(ex)
        ex.waiters.append(conn)
        return None

    def forget_waiter(self, conn: Connection) -> None:
        for ex in self._execs.values():
            if conn in ex.waiters:
                ex.waiters.remove(conn)

    def resize(self, exec_id: str, height: int, width: int) -> None:
        ex = self._get(exec_id)
        ex.size = (height, width)
        if ex.io is not None and ex.io.console is not None and not ex.finished:
            set_size(ex.io.console, height, width)

    def close_stdin(self, exec_id: str) -> None:
        ex = self._get(exec_id)
        if ex.stdin is not None:
            ex.stdin.close()

    def on_exit(self, pid: int, status: int) -> bool:
        """A reaped child: True if it was an exec."""
        ex = self._by_pid.pop(pid, None)
        if ex is None:
            return False
        code = os.waitstatus_to_exitcode(status)
        ex.exit_code = 128 - code if code < 0 else code
        if ex.pump is None or ex.pump.drained:
            self._finish(ex)
        else:
            ex.timer = self.loop.call_later(DRAIN_GRACE, lambda: self._finish(ex))
        return True

    def apply_backpressure(self) -> None:
        for ex in self._execs.values():
            if ex.pump is not None and not ex.finished:
                ex.pump.apply_backpressure()

    def finish_all(self) -> None:
        """The container exited: every exec is over (its processes died with the pid ns)."""
        for ex in self._execs.values():
            if ex.exit_code is None and ex.pid is not None:
                ex.exit_code = 137  # killed with the pid namespace, not yet reaped
            self._finish(ex)

    def _on_drained(self, ex: Exec) -> None:
        if ex.exit_code is not None:
            self._finish(ex)

    def _finish(self, ex: Exec) -> None:
        if ex.finished:
            return
        ex.finished = True
        if ex.timer is not None:
            self.loop.cancel(ex.timer)
        if ex.pump is not None:
            ex.pump.close()
        if ex.stdin is not None:
            ex.stdin.discard()
        if ex.io is not None and ex.io.console is not None:
            os.close(ex.io.console)
        ex.hub.finish()
        reply = _result(ex)
        waiters, ex.waiters = ex.waiters, []
        for conn in waiters:
            self._release(conn, reply)

    def _get(self, exec_id: str) -> Exec:
        try:
            return self._execs[exec_id]
        except KeyError:
            raise NotFound(f"no such exec: {exec_id}") from None


def _result(ex: Exec) -> Reply:
    if ex.exit_code is None:
        return {"ok": False, "kind": "Conflict",
                "error": f"exec {ex.exec_id} never ran: the container exited"}
    return {"ok": True, "exit_code": ex.exit_code}
