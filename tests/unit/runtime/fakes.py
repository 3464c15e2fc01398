"""In-memory fakes of ``berth.runtime.task``: ``FakeTaskManager`` makes ``FakeTask``s.

They pass the Task conformance suite (``task_suite.py``) that the shim client passes
(tests/integration/shim/test_task_conformance.py): same states, same exit statuses, same
errors with the shim's words. No process runs. A task reads its command from the bundle's
config.json (``process.args``), as a runtime would, and understands these::

    sh -c "exit N"                         exits N once started
    sh -c "trap 'exit N' TERM; <anything>" a PID 1 with a SIGTERM handler: exits N at
                                           SIGTERM (``TERM_HANDLER``)
    anything else                          runs until SIGKILL: as a PID 1 without signal
                                           handlers (``SLEEPER``), it ignores the rest

    created ──start──▶ running ⇄ paused ──exit──▶ stopped (wait answers, kill is a no-op)
       └──────────── SIGKILL (exit 137) ───────────▲

SIGKILL ends a task in any state with 137, and thaws a paused one first (as the shim does,
so a resume after it is refused); a paused task acts on SIGTERM once resumed. An exit comes
on a later turn of the loop, as the shim's does; a ``gated`` manager's tasks hold it until
the test calls ``open_gate``, so a test can hold a task between its signal and its exit.
Execs understand the same commands (without the signals): ``sh -c "exit N"`` exits N,
anything else runs until the container exits (137). ``attach`` moves no bytes:
NotImplemented.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from signal import SIGKILL, SIGTERM

from berth import errors
from berth.errors import Conflict, NotFound, RuntimeFailure
from berth.oci.spec import Process
from berth.runtime.shim import ExitStatus, ShimOptions
from berth.runtime.shim.protocol import window_size
from berth.runtime.task import Streams

SLEEPER = ("sleep", "300")
TERM_HANDLER = ("sh", "-c", "trap 'exit 143' TERM; sleep 300 & wait")
KILLED = 128 + SIGKILL

_EXIT = re.compile(r"exit (\d+)")
_TRAP = re.compile(r"trap 'exit (\d+)' TERM; .*")


def exits(code: int) -> tuple[str, ...]:
    """A command that exits ``code`` by itself."""
    return ("sh", "-c", f"exit {code}")


@dataclass(frozen=True)
class Program:
    """What a fake process does: exit by itself, and at SIGTERM (None: neither)."""

    exit_code: int | None
    term_exit_code: int | None

    @classmethod
    def of(cls, argv: tuple[str, ...]) -> Program:
        script = argv[2] if len(argv) == 3 and argv[:2] == ("sh", "-c") else ""
        exit_match, trap_match = _EXIT.fullmatch(script), _TRAP.fullmatch(script)
        return cls(int(exit_match[1]) % 256 if exit_match else None,
                   int(trap_match[1]) % 256 if trap_match else None)


@dataclass
class _Exec:
    program: Program
    done: asyncio.Future[int | None]  # the exit code; None: it never ran
    pid: int | None = None


@dataclass
class FakeTask:
    """One run of a container (see the module docstring)."""

    container_id: str
    program: Program
    init_pid: int
    pids: Iterator[int]  # for execs
    log: list[str]
    gate_open: bool = True
    status: str = "created"  # the shim's words: created, running, stopped
    paused: bool = False
    started: bool = False
    closes: int = 0
    _exit: asyncio.Future[ExitStatus] = field(
        init=False, default_factory=lambda: asyncio.get_running_loop().create_future())
    _dying: int | None = field(init=False, default=None)  # the code it ends with, gate open
    _term_pending: bool = field(init=False, default=False)  # a SIGTERM sent while frozen
    _execs: dict[str, _Exec] = field(init=False, default_factory=dict)

    async def start(self) -> None:
        if self.status != "created":
            raise RuntimeFailure(f"container is {self.status}")  # the shim names no kind
        self.log.append("start")
        self.status, self.started = "running", True
        if self.program.exit_code is not None:
            self._end(self.program.exit_code)

    async def kill(self, signal: int) -> None:
        self.log.append(f"kill {signal}")
        if self.status == "stopped":
            return
        if signal == SIGKILL:
            self.paused = False  # a frozen process cannot act on it: the shim thaws it
            self._end(KILLED)
        elif signal == SIGTERM and self.status == "running":
            self._term_pending = True
            if not self.paused:
                self._deliver_term()

    async def wait(self) -> ExitStatus:
        return await asyncio.shield(self._exit)

    async def resize(self, height: int, width: int) -> None:
        window_size({"height": height, "width": width})

    async def pause(self) -> None:
        self._check_running()
        if self.paused:
            raise Conflict(f"container {self.container_id} is already paused")
        self.log.append("pause")
        self.paused = True

    async def resume(self) -> None:
        self._check_running()
        if not self.paused:
            raise Conflict(f"container {self.container_id} is not paused")
        self.log.append("resume")
        self.paused = False
        self._deliver_term()

    async def exec_create(self, exec_id: str, process: Process, tty: bool,
                          open_stdin: bool) -> None:
        self._check_execable()
        if exec_id in self._execs:
            raise Conflict(f"exec {exec_id} already exists")
        done = asyncio.get_running_loop().create_future()
        self._execs[exec_id] = _Exec(Program.of(tuple(process["args"])), done)

    async def exec_start(self, exec_id: str) -> int:
        self._check_execable()
        ex = self._exec(exec_id)
        if ex.pid is not None or ex.done.done():
            raise Conflict(f"exec {exec_id} has already been started")
        ex.pid = next(self.pids)
        code = ex.program.exit_code
        if code is not None:
            asyncio.get_running_loop().call_soon(_settle, ex.done, code)
        return ex.pid

    async def exec_wait(self, exec_id: str) -> int:
        code = await asyncio.shield(self._exec(exec_id).done)
        if code is None:
            raise Conflict(f"exec {exec_id} never ran: the container exited")
        return code

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        window_size({"height": height, "width": width})
        self._exec(exec_id)

    async def attach(self, stdin: bool, stdout: bool, stderr: bool,
                     exec_id: str | None = None) -> Streams:
        raise errors.NotImplemented("a fake task moves no bytes")

    async def close(self) -> None:
        self.closes += 1

    def open_gate(self) -> None:
        """Let an exit held by a ``gated`` manager happen."""
        self.gate_open = True
        if self._dying is not None:
            asyncio.get_running_loop().call_soon(self._exited)

    def _deliver_term(self) -> None:
        if self._term_pending and self.program.term_exit_code is not None:
            self._end(self.program.term_exit_code)
        self._term_pending = False

    def _end(self, code: int) -> None:
        """The process is dying with ``code``; its exit comes on a later turn."""
        if self._dying is not None:
            return
        self._dying = code
        if self.gate_open:
            asyncio.get_running_loop().call_soon(self._exited)

    def _exited(self) -> None:
        if self._exit.done():
            return
        assert self._dying is not None
        self.status, self.paused = "stopped", False
        for ex in self._execs.values():  # they die with the pid namespace
            _settle(ex.done, None if ex.pid is None else KILLED)
        self._exit.set_result(ExitStatus(self._dying, False, time.time()))

    def _check_running(self) -> None:
        if self.status != "running":
            raise Conflict(f"container {self.container_id} is not running")

    def _check_execable(self) -> None:
        self._check_running()
        if self.paused:
            raise Conflict(f"container {self.container_id} is paused, unpause the "
                           "container before exec")

    def _exec(self, exec_id: str) -> _Exec:
        try:
            return self._execs[exec_id]
        except KeyError:
            raise NotFound(f"no such exec: {exec_id}") from None


def _settle(future: asyncio.Future[int | None], code: int | None) -> None:
    if not future.done():
        future.set_result(code)


class FakeTaskManager:
    """Makes a ``FakeTask`` from the bundle's config.json, logging "create" (and the
    tasks' "start", "kill N", "pause", "resume") to ``log``; ``made`` keeps them in order.
    A ``gated`` manager's tasks hold their exit until the test calls ``open_gate``."""

    def __init__(self, log: list[str] | None = None, gated: bool = False) -> None:
        self.log = [] if log is None else log
        self.gated = gated
        self.made: list[FakeTask] = []
        self.reaped: list[Path] = []
        self._pids = itertools.count(4242)
        self._by_state_dir: dict[Path, FakeTask] = {}

    async def create(self, opts: ShimOptions) -> FakeTask:
        config = json.loads((opts.bundle / "config.json").read_bytes())
        self.log.append("create")
        task = FakeTask(opts.container_id, Program.of(tuple(config["process"]["args"])),
                        next(self._pids), self._pids, self.log, gate_open=not self.gated)
        self.made.append(task)
        self._by_state_dir[opts.state_dir] = task
        return task

    async def connect(self, state_dir: Path) -> FakeTask | None:
        """The task of a container that has not exited (live restore), else None."""
        task = self._by_state_dir.get(state_dir)
        return None if task is None or task.status == "stopped" else task

    async def reap(self, state_dir: Path) -> None:
        self.reaped.append(state_dir)
