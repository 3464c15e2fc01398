"""One process's stdio as the shim holds it, for the container's init and every exec.

``open_stdio`` makes the process's ends (pipes, or a pty) and calls the runtime;
``OutputPump`` then moves its output to the attached clients (and, for the container only,
the json-file log: docker logs no exec output), reading no more while a client is slow::

    runtime ── stdout/stderr pipes (or pty master) ──▶ OutputPump ──▶ [json-file log]
                                                            └──────▶ AttachHub clients
    AttachHub clients ──▶ StdinSink ──▶ stdin pipe (or pty master)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

from berth.formats.stdcopy import STDERR, STDOUT
from berth.runtime import Stdio
from berth.runtime.shim.attach import AttachHub
from berth.runtime.shim.jsonlog import JsonFileLog
from berth.runtime.shim.loop import Loop

_STREAMS = {"stdout": STDOUT, "stderr": STDERR}
STDIN_HIGH_WATER = 1 << 20  # input buffered for a process that does not read it


@dataclass
class ProcessIO:
    """The shim's ends of one process's stdio."""

    sources: dict[int, str]  # readable fd → "stdout" | "stderr" (with a tty: the master)
    stdin: int | None  # pipe write end or pty master; None when stdin is /dev/null
    console: int | None  # pty master, for resize


def open_stdio(tty: bool, open_stdin: bool, plain: Callable[[Stdio], int],
               with_console: Callable[[], tuple[int, int]] | None) -> tuple[int, ProcessIO]:
    """Start a process through ``plain(stdio)`` (pipes; with a tty and no ``with_console``,
    a host pty slave) or ``with_console()`` (the runtime allocates the pty); return its
    pid and the shim's ends."""
    if tty:
        if with_console is not None:
            pid, master = with_console()
        else:
            master, slave = os.openpty()
            try:
                pid = plain(Stdio(slave, slave, slave))
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)
        return pid, ProcessIO({master: "stdout"}, master if open_stdin else None, master)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    if open_stdin:
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
    else:
        in_r, in_w = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), -1
    try:
        pid = plain(Stdio(in_r, out_w, err_w))
    except BaseException:
        for fd in (out_r, err_r, in_w):
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    return pid, ProcessIO({out_r: "stdout", err_r: "stderr"}, in_w if in_w >= 0 else None,
                          None)


SALVAGE_LIMIT = 1 << 20  # bytes a source may still hand over when its pump closes


class OutputPump:
    """Reads a process's output fds into its hub (and ``log``); ``on_drained`` once every
    source reached EOF."""

    def __init__(self, loop: Loop, io: ProcessIO, hub: AttachHub, log: JsonFileLog | None,
                 on_drained: Callable[[], None]) -> None:
        self.loop = loop
        self.io = io
        self.hub = hub
        self.log = log
        self._on_drained = on_drained
        self._open = dict(io.sources)
        self._paused = False
        for fd in io.sources:
            os.set_blocking(fd, False)
            loop.add_reader(fd, functools.partial(self._on_output, fd))

    @property
    def drained(self) -> bool:
        return not self._open

    def close(self) -> None:
        """Stop reading. What the pipes already hold is forwarded first (up to
        ``SALVAGE_LIMIT`` a source): a shim loop kept busy past the drain grace (fifty
        execs starting at once) must not lose what an exited process wrote; what a
        still-running writer adds after that is given up."""
        for fd in list(self._open):
            self._salvage(fd)
            if fd in self._open:
                self._close_source(fd)

    def _salvage(self, fd: int) -> None:
        left = SALVAGE_LIMIT
        while left > 0 and fd in self._open:
            try:
                data = os.read(fd, min(65536, left))
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            left -= len(data)
            stream = self._open[fd]
            if self.log is not None:
                self.log.write(stream, data)
            self.hub.broadcast(_STREAMS[stream], data)

    def apply_backpressure(self) -> None:
        if not self._paused and self.hub.congested:
            self._paused = True
            for fd in self._open:
                self.loop.remove_reader(fd)
        elif self._paused and self.hub.relieved:
            self._paused = False
            for fd in self._open:
                self.loop.add_reader(fd, functools.partial(self._on_output, fd))
        stdin = self.hub.stdin
        if stdin is not None:
            self.hub.throttle_input(stdin.pending > STDIN_HIGH_WATER)

    def _on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every pty slave is closed
            data = b""
        if not data:
            self._close_source(fd)
            if not self._open:
                self._on_drained()
            return
        stream = self._open[fd]
        if self.log is not None:
            self.log.write(stream, data)
        self.hub.broadcast(_STREAMS[stream], data)

    def _close_source(self, fd: int) -> None:
        self.loop.remove_reader(fd)
        del self._open[fd]
        if fd != self.io.console:  # the master also carries stdin and resize
            os.close(fd)
