"""The shim's main loop for one created container, until it has exited and drained.

    created ──start──▶ running ⇄ paused (freezer) ──init reaped──▶ exited: drain output
       (execs run only while running)                 (EOF or DRAIN_GRACE); oom count
                                                      read at init's exit
                                                        ▼
        exit.json, answer waits, close attach clients; after they are flushed,
        runtime.delete (cgroup, runtime state) and release the claim ──▶ shim exits

Reaping happens only here, between loop iterations (SIGCHLD only wakes the selector), so
it never races ``subprocess`` calls to runc, which wait for their own pid. As the
subreaper the shim reaps exec processes (``ExecSet.on_exit``) and orphans the container
leaves behind.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.errors import BerthError, Conflict
from berth.runtime.linux.console import set_size
from berth.runtime.shim import ExitStatus
from berth.runtime.shim.attach import AttachHub, AttachListener, StdinSink
from berth.runtime.shim.claim import Claim
from berth.runtime.shim.execs import ExecSet
from berth.runtime.shim.jsonlog import JsonFileLog
from berth.runtime.shim.loop import Connection, Loop
from berth.runtime.shim.protocol import (
    ATTACH_SOCKET,
    CONTROL_SOCKET,
    EXIT_FILE,
    encode_line,
    exit_to_json,
    window_size,
    write_atomic,
)
from berth.runtime.shim.runtimes import ContainerCgroup
from berth.runtime.shim.streams import OutputPump, ProcessIO
from berth.runtime.sockets import socket_path

log = logging.getLogger(__name__)

DRAIN_GRACE = 2.0  # after init exits, wait this long for EOF on output (escaped writers)
CLIENT_GRACE = 30.0  # after that, give attached clients this long to read what is left

ContainerIO = ProcessIO  # the container's init's stdio, as main.py allocates it


@dataclass(frozen=True)
class Sockets:
    control: socket.socket
    attach: socket.socket


class Monitor:
    def __init__(self, claim: Claim, init_pid: int, io: ProcessIO, sockets: Sockets,
                 json_log: JsonFileLog | None, cgroup: ContainerCgroup, state_dir: Path,
                 stdin_once: bool) -> None:
        self.claim = claim
        self.container_id = container_id = claim.container_id
        self.runtime = runtime = claim.runtime
        self.init_pid = init_pid
        self.io = io
        self.json_log = json_log
        self.cgroup = cgroup
        self.state_dir = state_dir
        self.status = "created"
        self.paused = False
        self.exit: ExitStatus | None = None
        self.loop = Loop()
        self._raw_exit: tuple[int, bool, float] | None = None
        self._retired = False
        self._deadline: float | None = None
        self._control_in: dict[Connection, bytearray] = {}
        self._waiting: set[Connection] = set()  # a deferred reply blocks its next request
        self._exit_waiters: set[Connection] = set()  # of those, the ones in "wait"
        self._control = sockets.control
        stdin = None if io.stdin is None else StdinSink(self.loop, io.stdin,
                                                         tty=io.console is not None)
        self.hub = AttachHub(self.loop, tty=io.console is not None, stdin=stdin,
                             stdin_once=stdin_once)
        self.pump = OutputPump(self.loop, io, self.hub, json_log, self._on_drained)
        self.execs = ExecSet(self.loop, container_id, runtime, self._release)
        self.attach = AttachListener(self.loop, sockets.attach, self._attach_target)
        self._wakeup_r, wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wakeup_w)
        self.loop.add_reader(self._wakeup_r, self._on_signal)
        self._control.setblocking(False)
        self.loop.add_reader(self._control.fileno(), self._accept_control)

    def run(self) -> int:
        """Serve until the container exited and every client drained; the exit code."""
        self._reap()
        while not (self.exit is not None and self._clients_gone and self._replies_sent):
            timeout = None
            if self._deadline is not None:
                timeout = max(0.0, self._deadline - time.monotonic())
            self.loop.run_once(timeout)
            self.pump.apply_backpressure()
            self.execs.apply_backpressure()
            if self._deadline is not None and time.monotonic() >= self._deadline:
                if self.exit is None:
                    self._finish()
                else:
                    break  # attached clients that do not read are left behind
        signal.set_wakeup_fd(-1)
        self.retire()  # if the loop ended before the timer from _finish ran
        return self.exit.exit_code if self.exit else 255

    @property
    def _clients_gone(self) -> bool:
        return self.hub.idle and self.execs.idle and self.attach.idle

    @property
    def _replies_sent(self) -> bool:
        return all(conn.pending == 0 for conn in self._control_in)

    def _attach_target(self, exec_id: str | None) -> AttachHub | None:
        return self.hub if exec_id is None else self.execs.hub(exec_id)

    # -- the container -------------------------------------------------------------------

    def _on_drained(self) -> None:
        if self._raw_exit is not None:
            self._finish()

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
            else:
                self.execs.on_exit(pid, status)

    def _on_init_exit(self, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        try:
            oom_killed = self.cgroup.oom_kill_count() > 0
        except (OSError, BerthError, ValueError) as err:
            log.warning("reading the oom kill count failed: %s", err)
            oom_killed = False
        self._raw_exit = (128 - code if code < 0 else code, oom_killed, time.time())
        self.status = "stopped"
        self.paused = False
        log.info("init %d exited: %s", self.init_pid, self._raw_exit)
        self._deadline = time.monotonic() + DRAIN_GRACE
        if self.pump.drained:
            self._finish()

    def _finish(self) -> None:
        """Output drained (or given up on): record the exit and release everyone, then
        delete the container from the runtime.

        The delete (cgroup rmdirs, runtime state: ms) comes last, so berthd hears the exit
        and clients their EOF without waiting for it; the OOM count it would destroy was
        read at init's exit. exit.json comes first: live restore reads it once the shim is
        gone. A shim killed before its delete leaves a stale claim (see claim.py)."""
        assert self._raw_exit is not None
        self.pump.close()
        if self.json_log is not None:
            self.json_log.close()
        self.exit = ExitStatus(*self._raw_exit)
        write_atomic(self.state_dir / EXIT_FILE, json.dumps(exit_to_json(self.exit)).encode())
        for conn in list(self._exit_waiters):
            self._release(conn, {"ok": True, **exit_to_json(self.exit)})
        self.execs.finish_all()
        self.hub.finish()
        self.attach.close()
        self._deadline = time.monotonic() + CLIENT_GRACE
        # A timer runs after the next select, which writes what was just queued first.
        self.loop.call_later(0, self.retire)

    def retire(self) -> None:
        """Give the container id up: unlink our sockets (a later ``wait`` reads exit.json),
        then delete from the runtime and release the claim. In this order because the
        next shim of this id binds the same socket paths as soon as it holds the claim;
        and only once: after that the paths may be the next shim's. Before the exit is
        recorded (the shim is failing) the claim is left to go stale with the process,
        so the container's remains are deleted by the next shim, not under a live one."""
        if self._retired:
            return
        self._retired = True
        for name in (CONTROL_SOCKET, ATTACH_SOCKET):
            socket_path(self.state_dir, name).unlink(missing_ok=True)
        if self.exit is not None:
            self.claim.delete()

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
        self._exit_waiters.discard(conn)
        self.execs.forget_waiter(conn)

    def _on_control_data(self, conn: Connection, data: bytes) -> None:
        if not data:
            conn.close_when_flushed()
            return
        self._control_in[conn] += data
        self._serve_control(conn)

    def _release(self, conn: Connection, reply: dict[str, Any]) -> None:
        """Answer a deferred request (wait, exec_wait) and read the connection's next."""
        self._waiting.discard(conn)
        self._exit_waiters.discard(conn)
        conn.send(encode_line(reply))
        self._serve_control(conn)

    def _serve_control(self, conn: Connection) -> None:
        buf = self._control_in.get(conn)
        while buf is not None and conn not in self._waiting and b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            reply = self._answer(conn, line)
            if reply is None:
                self._waiting.add(conn)
            else:
                conn.send(encode_line(reply))

    def _answer(self, conn: Connection, line: bytes) -> dict[str, Any] | None:
        """The reply to one request line (None: deferred). Whatever the line holds, the
        shim answers and serves on: its death would orphan the container (see protocol)."""
        try:
            request = json.loads(line)
        except (ValueError, RecursionError) as err:
            return {"ok": False, "error": f"bad request: {err}"}
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            return {"ok": False, "error": "bad request: not an object with a string op"}
        op = request["op"]
        try:
            return self._handle(conn, request)
        except (ValueError, KeyError, TypeError) as err:
            return {"ok": False, "error": f"bad request: {op}: {err!r}"}
        except BerthError as err:
            return {"ok": False, "error": err.message, "kind": type(err).__name__}
        except OSError as err:  # a freezer or ioctl failure: the client hears it
            return {"ok": False, "error": f"{op}: {err}"}
        except Exception as err:  # a bug of ours: answered and logged, never fatal
            log.exception("request %.200r failed", line)
            return {"ok": False, "error": f"{op}: internal error: {err!r}"}

    def _handle(self, conn: Connection, request: dict[str, Any]) -> dict[str, Any] | None:
        op = request["op"]
        if op == "wait":
            if self.exit is None:
                self._exit_waiters.add(conn)
                return None
            return {"ok": True, **exit_to_json(self.exit)}
        if op == "exec_wait":
            return self.execs.wait(str(request["exec_id"]), conn)
        if op == "state":
            return {"ok": True, "pid": self.init_pid, "status": self.status,
                    "paused": self.paused}
        if op == "start":
            if self.status != "created":
                return {"ok": False, "error": f"container is {self.status}"}
            self.runtime.start(self.container_id)
            self.status = "running"
        elif op == "kill":
            self._kill(int(request["signal"]))
        elif op == "resize":
            height, width = window_size(request)
            if self.io.console is not None:
                set_size(self.io.console, height, width)
        elif op == "close_stdin":
            if self.hub.stdin is not None:
                self.hub.stdin.close()
        elif op in ("pause", "resume"):
            self._set_paused(op == "pause")
        elif op.startswith("exec_"):
            return self._handle_exec(op, request)
        else:
            return {"ok": False, "error": f"unknown op {op!r}"}
        return {"ok": True}

    def _handle_exec(self, op: str, request: dict[str, Any]) -> dict[str, Any]:
        exec_id = str(request["exec_id"])
        if op in ("exec_create", "exec_start"):
            self._check_running()
            if self.paused:
                raise Conflict(f"container {self.container_id} is paused, unpause the "
                               "container before exec")
        if op == "exec_create":
            self.execs.create(exec_id, request["process"], bool(request["tty"]),
                              bool(request["open_stdin"]))
        elif op == "exec_start":
            return {"ok": True, "pid": self.execs.start(exec_id)}
        elif op == "exec_resize":
            self.execs.resize(exec_id, *window_size(request))
        elif op == "exec_close_stdin":
            self.execs.close_stdin(exec_id)
        else:
            return {"ok": False, "error": f"unknown op {op!r}"}
        return {"ok": True}

    def _check_running(self) -> None:
        if self.status != "running":
            raise Conflict(f"container {self.container_id} is not running")

    def _set_paused(self, paused: bool) -> None:
        self._check_running()
        if paused == self.paused:
            raise Conflict(f"container {self.container_id} is "
                           f"{'already' if paused else 'not'} paused")
        if paused:
            self.cgroup.freeze()
        else:
            self.cgroup.thaw()
        self.paused = paused

    def _kill(self, signum: int) -> None:
        if self._raw_exit is not None:
            return  # killing an exited container is a no-op
        self.runtime.kill(self.container_id, signum)
        if self.paused and signum == signal.SIGKILL:
            # A frozen task cannot act on SIGKILL; docker kills a paused container too.
            self.cgroup.thaw()
            self.paused = False
