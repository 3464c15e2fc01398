"""The shim's main loop for one created container, until it has exited and drained.

    created ──start──▶ running ──init reaped──▶ exited: drain output (EOF or DRAIN_GRACE)
                                                  │ oom count read before delete
                                                  ▼
             runtime.delete, exit.json, answer waits, flush attach clients ──▶ shim exits

Reaping happens only here, between loop iterations (SIGCHLD only wakes the selector), so
it never races ``subprocess`` calls to runc, which wait for their own pid. As the
subreaper the shim also reaps orphans the container leaves behind.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import signal
import socket
import struct
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.api.types.stdcopy import STDERR, STDOUT
from berth.errors import BerthError
from berth.runtime import ContainerRuntime
from berth.runtime.shim import ExitStatus
from berth.runtime.shim.attach import AttachHub, StdinSink
from berth.runtime.shim.jsonlog import JsonFileLog
from berth.runtime.shim.loop import Connection, Loop
from berth.runtime.shim.protocol import EXIT_FILE, encode_line, exit_to_json, write_atomic

log = logging.getLogger(__name__)

DRAIN_GRACE = 2.0  # after init exits, wait this long for EOF on output (escaped writers)
CLIENT_GRACE = 30.0  # after that, give attached clients this long to read what is left
_STREAMS = {"stdout": STDOUT, "stderr": STDERR}


@dataclass
class ContainerIO:
    """The shim's ends of the container's stdio."""

    sources: dict[int, str]  # readable fd → "stdout" | "stderr" (with a tty: the master)
    stdin: int | None  # pipe write end or pty master; None when stdin is /dev/null
    console: int | None  # pty master, for resize


@dataclass(frozen=True)
class Sockets:
    control: socket.socket
    attach: socket.socket


class Monitor:
    def __init__(self, container_id: str, runtime: ContainerRuntime, init_pid: int,
                 io: ContainerIO, sockets: Sockets, json_log: JsonFileLog | None,
                 oom_kill_count: Callable[[], int], state_dir: Path,
                 stdin_once: bool) -> None:
        self.container_id = container_id
        self.runtime = runtime
        self.init_pid = init_pid
        self.io = io
        self.json_log = json_log
        self.oom_kill_count = oom_kill_count
        self.state_dir = state_dir
        self.status = "created"
        self.exit: ExitStatus | None = None
        self.loop = Loop()
        self._raw_exit: tuple[int, bool, float] | None = None
        self._deadline: float | None = None
        self._paused = False
        self._sources_open = dict(io.sources)
        self._control_in: dict[Connection, bytearray] = {}
        self._waiting: set[Connection] = set()
        self._control = sockets.control
        stdin = None if io.stdin is None else StdinSink(self.loop, io.stdin,
                                                         tty=io.console is not None)
        self.hub = AttachHub(self.loop, sockets.attach, tty=io.console is not None,
                             stdin=stdin, stdin_once=stdin_once)
        self._wakeup_r, wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wakeup_w)
        self.loop.add_reader(self._wakeup_r, self._on_signal)
        self._control.setblocking(False)
        self.loop.add_reader(self._control.fileno(), self._accept_control)
        for fd in io.sources:
            os.set_blocking(fd, False)
            self.loop.add_reader(fd, functools.partial(self._on_output, fd))

    def run(self) -> int:
        """Serve until the container exited and every client drained; the exit code."""
        self._reap()
        while not (self.exit is not None and self.hub.idle and self._replies_sent):
            timeout = None
            if self._deadline is not None:
                timeout = max(0.0, self._deadline - time.monotonic())
            self.loop.run_once(timeout)
            self._apply_backpressure()
            if self._deadline is not None and time.monotonic() >= self._deadline:
                if self.exit is None:
                    self._finish()
                else:
                    break  # attached clients that do not read are left behind
        signal.set_wakeup_fd(-1)
        return self.exit.exit_code if self.exit else 255

    @property
    def _replies_sent(self) -> bool:
        return all(conn.pending == 0 for conn in self._control_in)

    # -- the container -------------------------------------------------------------------

    def _on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every pty slave is closed
            data = b""
        if not data:
            self._close_source(fd)
            return
        stream = self._sources_open[fd]
        if self.json_log is not None:
            self.json_log.write(stream, data)
        self.hub.broadcast(_STREAMS[stream], data)

    def _close_source(self, fd: int) -> None:
        self.loop.remove_reader(fd)
        del self._sources_open[fd]
        if fd != self.io.console:
            os.close(fd)
        if not self._sources_open and self._raw_exit is not None:
            self._finish()

    def _apply_backpressure(self) -> None:
        if not self._paused and self.hub.congested:
            self._paused = True
            for fd in self._sources_open:
                self.loop.remove_reader(fd)
        elif self._paused and self.hub.relieved:
            self._paused = False
            for fd in self._sources_open:
                self.loop.add_reader(fd, functools.partial(self._on_output, fd))
        stdin = self.hub.stdin
        if stdin is not None:
            self.hub.throttle_input(stdin.pending > (1 << 20))

    def _on_signal(self) -> None:
        while True:
            try:
                if not os.read(self._wakeup_r, 512):
                    break
            except BlockingIOError:
                break
        self._reap()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.init_pid and self._raw_exit is None:
                self._on_init_exit(status)

    def _on_init_exit(self, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        try:
            oom_killed = self.oom_kill_count() > 0
        except (OSError, BerthError, ValueError) as err:
            log.warning("reading the oom kill count failed: %s", err)
            oom_killed = False
        self._raw_exit = (128 - code if code < 0 else code, oom_killed, time.time())
        self.status = "stopped"
        log.info("init %d exited: %s", self.init_pid, self._raw_exit)
        self._deadline = time.monotonic() + DRAIN_GRACE
        if not self._sources_open:
            self._finish()

    def _finish(self) -> None:
        """Output drained (or given up on): record the exit and release everyone."""
        assert self._raw_exit is not None
        for fd in list(self._sources_open):
            self._close_source(fd)
        if self.json_log is not None:
            self.json_log.close()
        try:
            self.runtime.delete(self.container_id)
        except BerthError as err:
            log.warning("runtime delete failed: %s", err)
        self.exit = ExitStatus(*self._raw_exit)
        write_atomic(self.state_dir / EXIT_FILE, json.dumps(exit_to_json(self.exit)).encode())
        for conn in list(self._waiting):
            self._waiting.discard(conn)
            conn.send(encode_line({"ok": True, **exit_to_json(self.exit)}))
            self._serve_control(conn)
        self.hub.finish()
        self._deadline = time.monotonic() + CLIENT_GRACE

    # -- control connections --------------------------------------------------------------

    def _accept_control(self) -> None:
        try:
            sock, _ = self._control.accept()
        except BlockingIOError:
            return
        self._control_in[Connection(self.loop, sock, self._on_control_data,
                                    self._on_control_close)] = bytearray()

    def _on_control_close(self, conn: Connection) -> None:
        self._control_in.pop(conn, None)
        self._waiting.discard(conn)

    def _on_control_data(self, conn: Connection, data: bytes) -> None:
        if not data:
            conn.close_when_flushed()
            return
        self._control_in[conn] += data
        self._serve_control(conn)

    def _serve_control(self, conn: Connection) -> None:
        buf = self._control_in.get(conn)
        while buf is not None and conn not in self._waiting and b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            try:
                request = json.loads(line)
                reply = self._handle(conn, request)
            except (ValueError, KeyError, TypeError) as err:
                reply = {"ok": False, "error": f"bad request: {err}"}
            except BerthError as err:
                reply = {"ok": False, "error": err.message}
            if reply is not None:
                conn.send(encode_line(reply))

    def _handle(self, conn: Connection, request: dict[str, Any]) -> dict[str, Any] | None:
        op = request["op"]
        if op == "wait":
            if self.exit is None:
                self._waiting.add(conn)
                return None
            return {"ok": True, **exit_to_json(self.exit)}
        if op == "state":
            return {"ok": True, "pid": self.init_pid, "status": self.status}
        if op == "start":
            if self.status != "created":
                return {"ok": False, "error": f"container is {self.status}"}
            self.runtime.start(self.container_id)
            self.status = "running"
        elif op == "kill":
            if self._raw_exit is None:  # killing an exited container is a no-op
                self.runtime.kill(self.container_id, int(request["signal"]))
        elif op == "resize":
            if self.io.console is not None:
                size = struct.pack("HHHH", int(request["height"]), int(request["width"]), 0, 0)
                fcntl.ioctl(self.io.console, termios.TIOCSWINSZ, size)
        elif op == "close_stdin":
            if self.hub.stdin is not None:
                self.hub.stdin.close()
        else:
            return {"ok": False, "error": f"unknown op {op!r}"}
        return {"ok": True}
