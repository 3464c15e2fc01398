"""Attach connections: a process's output to every attached client, their input to its
stdin. The process is the container's init, or an exec named by ``exec_id``.

One connection on ``attach.sock``::

    client                                         shim
    ──────                                         ────
    {"stdin":true,"stdout":true,"stderr":true}\\n ─▶ registered (sees all later output)
      (+ "exec_id": "..." for an exec; connect      AttachListener: handshake → the hub of
       before exec_start so nothing is missed)       the container or of that exec
                                               ◀── ok\\n
    stdin bytes ──────────────────────────────────▶ container stdin (pipe, or pty master)
    shutdown(SHUT_WR) ────────────────────────────▶ close stdin if stdin_once and no tty
                                                    (an exec with open_stdin: stdin_once)
                                               ◀── output: stdcopy frames, raw with a tty
                                               ◀── EOF once the process exited and drained

Nothing is dropped for a slow client: its buffer grows and the shim stops reading the
container's output (``congested``) until it drains; a client that goes away is forgotten.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from berth.formats.stdcopy import STDOUT, encode_frame
from berth.runtime.shim.loop import Connection, Loop

log = logging.getLogger(__name__)

HIGH_WATER = 1 << 20  # bytes buffered for one peer before the shim stops reading its source
LOW_WATER = 1 << 16
_MAX_HANDSHAKE = 4096


@dataclass(frozen=True)
class AttachMode:
    stdin: bool
    stdout: bool
    stderr: bool


class StdinSink:
    """A process's stdin: a pipe's write end, or the pty master with a tty. The fd may come
    later (``set_fd``: an exec's pty exists only once it starts); input is buffered until
    then, so a client that attached early loses nothing."""

    def __init__(self, loop: Loop, fd: int | None, tty: bool) -> None:
        self.loop = loop
        self.fd = -1
        self.tty = tty
        self.closed = False
        self._buf = bytearray()
        self._close_when_flushed = False
        if fd is not None:
            self.set_fd(fd)

    def set_fd(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        if self._buf:
            self.loop.add_writer(fd, self._writable)
        elif self._close_when_flushed:
            self._close_now()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def write(self, data: bytes) -> None:
        if self.closed or self._close_when_flushed or not data:
            return
        if not self._buf and self.fd >= 0:
            self.loop.add_writer(self.fd, self._writable)
        self._buf += data

    def close(self) -> None:
        """Give the process EOF on stdin once the buffered input is written (with a tty,
        the terminal's EOF character: the master stays open for output)."""
        if self.tty:
            self.write(b"\x04")
            return
        self._close_when_flushed = True
        if not self._buf and self.fd >= 0:
            self._close_now()

    def discard(self) -> None:
        """The process is gone: drop pending input and close a pipe (a pty master belongs
        to the output side)."""
        self._buf.clear()
        if self.fd >= 0:
            self._close_now()
        self.closed = True

    def _writable(self) -> None:
        try:
            written = os.write(self.fd, self._buf)
        except BlockingIOError:
            return
        except OSError as err:  # the process closed its stdin or exited
            if err.errno not in (errno.EPIPE, errno.EIO):
                log.warning("stdin write failed: %s", err)
            self._buf.clear()
            written = 0
        del self._buf[:written]
        if not self._buf:
            self.loop.remove_writer(self.fd)
            if self._close_when_flushed:
                self._close_now()

    def _close_now(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_writer(self.fd)
            if not self.tty:
                os.close(self.fd)


class AttachHub:
    """The attached clients of one process (the container's init, or one exec)."""

    def __init__(self, loop: Loop, tty: bool, stdin: StdinSink | None,
                 stdin_once: bool) -> None:
        self.loop = loop
        self.tty = tty
        self.stdin = stdin
        self.stdin_once = stdin_once
        self.finished = False
        self._clients: dict[Connection, AttachMode] = {}

    @property
    def idle(self) -> bool:
        """No client is connected any more."""
        return not self._clients

    @property
    def congested(self) -> bool:
        return any(conn.pending > HIGH_WATER for conn in self._clients)

    @property
    def relieved(self) -> bool:
        return all(conn.pending < LOW_WATER for conn in self._clients)

    def add(self, conn: Connection, mode: AttachMode, rest: bytes) -> None:
        """Take over a connection whose handshake named this process."""
        conn.rebind(self._on_data, self._on_close)
        self._clients[conn] = mode
        conn.send(b"ok\n")
        if self.finished:
            conn.close_when_flushed()
        elif rest:
            self._on_data(conn, rest)

    def broadcast(self, stream: int, data: bytes) -> None:
        payload = data if self.tty else encode_frame(stream, data)
        for conn, mode in self._clients.items():
            if mode.stdout if stream == STDOUT else mode.stderr:
                conn.send(payload)

    def throttle_input(self, paused: bool) -> None:
        """Stop (or resume) reading stdin from clients while the process is not reading."""
        for conn, mode in self._clients.items():
            if mode.stdin:
                if paused:
                    conn.pause_reading()
                else:
                    conn.resume_reading()

    def finish(self) -> None:
        """The process exited and its output was broadcast: flush and close every client."""
        self.finished = True
        for conn in list(self._clients):
            conn.close_when_flushed()

    def _on_data(self, conn: Connection, data: bytes) -> None:
        mode = self._clients.get(conn)
        if mode is None or not mode.stdin or self.stdin is None:
            return
        if data:
            self.stdin.write(data)
        elif self.stdin_once and not self.tty:
            # moby closes stdin on the client's EOF only without a tty: with one, the client
            # going away (a detach, a dropped connection) must leave the shell running.
            self.stdin.close()

    def _on_close(self, conn: Connection) -> None:
        self._clients.pop(conn, None)


class AttachListener:
    """Accepts on ``attach.sock`` and hands each connection, after its handshake line, to
    the hub ``resolve(exec_id)`` names (``None``: the container; unknown: refused)."""

    def __init__(self, loop: Loop, listener: socket.socket,
                 resolve: Callable[[str | None], AttachHub | None]) -> None:
        self.loop = loop
        self.listener = listener
        self.resolve = resolve
        self.closed = False
        self._handshakes: dict[Connection, bytearray] = {}
        listener.setblocking(False)
        loop.add_reader(listener.fileno(), self._accept)

    @property
    def idle(self) -> bool:
        return not self._handshakes

    def close(self) -> None:
        """Accept no more clients (the container is gone); pending handshakes are dropped."""
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.listener.fileno())
        self.listener.close()
        for conn in list(self._handshakes):
            conn.close()

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn = Connection(self.loop, sock, self._handshake, self._on_close)
        self._handshakes[conn] = bytearray()

    def _handshake(self, conn: Connection, data: bytes) -> None:
        buf = self._handshakes[conn]
        buf += data
        line, sep, rest = buf.partition(b"\n")
        if not sep:
            if not data or len(buf) > _MAX_HANDSHAKE:
                conn.close()
            return
        del self._handshakes[conn]
        try:
            request = json.loads(line)
            mode = AttachMode(bool(request.get("stdin")), bool(request.get("stdout")),
                              bool(request.get("stderr")))
            exec_id = request.get("exec_id")
        except (ValueError, AttributeError, RecursionError):
            self._refuse(conn, "bad attach request")
            return
        hub = self.resolve(None if exec_id is None else str(exec_id))
        if hub is None:
            self._refuse(conn, f"no such exec: {exec_id}")
            return
        hub.add(conn, mode, bytes(rest))

    def _refuse(self, conn: Connection, message: str) -> None:
        conn.rebind(lambda c, d: None, lambda c: None)
        conn.send(json.dumps({"error": message}).encode() + b"\n")
        conn.close_when_flushed()

    def _on_close(self, conn: Connection) -> None:
        self._handshakes.pop(conn, None)
