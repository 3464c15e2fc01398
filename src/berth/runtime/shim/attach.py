"""Attach connections: the container's output to every attached client, their input to
the container's stdin.

One connection on ``attach.sock``::

    client                                         shim
    ──────                                         ────
    {"stdin":true,"stdout":true,"stderr":true}\\n ─▶ registered (sees all later output)
                                               ◀── ok\\n
    stdin bytes ──────────────────────────────────▶ container stdin (pipe, or pty master)
    shutdown(SHUT_WR) ────────────────────────────▶ close container stdin if stdin_once
                                               ◀── output: stdcopy frames, raw with a tty
                                               ◀── EOF once the container exited and drained

Nothing is dropped for a slow client: its buffer grows and the shim stops reading the
container's output (``congested``) until it drains; a client that goes away is forgotten.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
from dataclasses import dataclass

from berth.api.types.stdcopy import STDOUT, encode_frame
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
    """The container's stdin: a pipe's write end, or the pty master with a tty."""

    def __init__(self, loop: Loop, fd: int, tty: bool) -> None:
        self.loop = loop
        self.fd = fd
        self.tty = tty
        self.closed = False
        self._buf = bytearray()
        self._close_when_flushed = False
        os.set_blocking(fd, False)

    @property
    def pending(self) -> int:
        return len(self._buf)

    def write(self, data: bytes) -> None:
        if self.closed or self._close_when_flushed or not data:
            return
        if not self._buf:
            self.loop.add_writer(self.fd, self._writable)
        self._buf += data

    def close(self) -> None:
        """Give the container EOF on stdin once the buffered input is written (with a tty,
        the terminal's EOF character: the master stays open for output)."""
        if self.tty:
            self.write(b"\x04")
            return
        self._close_when_flushed = True
        if not self._buf:
            self._close_now()

    def _writable(self) -> None:
        try:
            written = os.write(self.fd, self._buf)
        except BlockingIOError:
            return
        except OSError as err:  # the container closed its stdin or exited
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
    def __init__(self, loop: Loop, listener: socket.socket, tty: bool,
                 stdin: StdinSink | None, stdin_once: bool) -> None:
        self.loop = loop
        self.listener = listener
        self.tty = tty
        self.stdin = stdin
        self.stdin_once = stdin_once
        self.finished = False
        self._clients: dict[Connection, AttachMode] = {}
        self._handshakes: dict[Connection, bytearray] = {}
        listener.setblocking(False)
        loop.add_reader(listener.fileno(), self._accept)

    @property
    def idle(self) -> bool:
        """No client is connected any more (the shim may exit)."""
        return not self._clients and not self._handshakes

    @property
    def congested(self) -> bool:
        return any(conn.pending > HIGH_WATER for conn in self._clients)

    @property
    def relieved(self) -> bool:
        return all(conn.pending < LOW_WATER for conn in self._clients)

    def broadcast(self, stream: int, data: bytes) -> None:
        payload = data if self.tty else encode_frame(stream, data)
        for conn, mode in self._clients.items():
            if mode.stdout if stream == STDOUT else mode.stderr:
                conn.send(payload)

    def throttle_input(self, paused: bool) -> None:
        """Stop (or resume) reading stdin from clients while the container is not reading."""
        for conn, mode in self._clients.items():
            if mode.stdin:
                if paused:
                    conn.pause_reading()
                else:
                    conn.resume_reading()

    def finish(self) -> None:
        """The container exited and its output was broadcast: flush and close every client."""
        self.finished = True
        self.loop.remove_reader(self.listener.fileno())
        self.listener.close()
        for conn in [*self._handshakes, *self._clients]:
            conn.close_when_flushed()

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn = Connection(self.loop, sock, self._on_data, self._on_close)
        self._handshakes[conn] = bytearray()

    def _on_data(self, conn: Connection, data: bytes) -> None:
        if conn in self._handshakes:
            self._handshake(conn, data)
            return
        mode = self._clients.get(conn)
        if mode is None or not mode.stdin or self.stdin is None:
            return
        if data:
            self.stdin.write(data)
        elif self.stdin_once:
            self.stdin.close()

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
        except (ValueError, AttributeError):
            conn.send(b'{"error":"bad attach request"}\n')
            conn.close_when_flushed()
            return
        self._clients[conn] = mode
        conn.send(b"ok\n")
        if self.finished:
            conn.close_when_flushed()
        elif rest:
            self._on_data(conn, bytes(rest))

    def _on_close(self, conn: Connection) -> None:
        self._handshakes.pop(conn, None)
        self._clients.pop(conn, None)
