"""Hijacked connections: attach turns the HTTP connection into a raw duplex stream.

The client asks to upgrade, as moby's CLI does::

    POST /v1.45/containers/{id}/attach?stream=1&stdout=1&stderr=1&stdin=1 HTTP/1.1
    Connection: Upgrade
    Upgrade: tcp

    HTTP/1.1 101 UPGRADED            (older daemons answer 200 OK and then stream raw)
    Content-Type: application/vnd.docker.multiplexed-stream
    Connection: Upgrade
    Upgrade: tcp

After the blank line the socket carries the container's output (stdcopy frames without a
tty, raw bytes with one) and takes its stdin; half-closing our write side is stdin's EOF.
The response's buffered reader is kept for reading because it may already hold the first
bytes of output that arrived with the headers.
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
from typing import IO

from berth.client import stdcopy
from berth.client.transport import Params, Transport, UnixHTTPConnection

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"


class HijackedStream:
    """The raw stream of one attach: read output, write stdin, half-close."""

    def __init__(self, conn: UnixHTTPConnection, sock: socket.socket,
                 resp: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._sock = sock
        self._resp = resp
        assert resp.fp is not None
        self.reader: IO[bytes] = resp.fp
        self.content_type = resp.getheader("Content-Type", "")

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close_write(self) -> None:
        """Signal EOF on the container's stdin, keeping its output flowing."""
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the daemon already closed the stream; nothing left to signal

    def copy_output(self, stdout: IO[bytes], stderr: IO[bytes], tty: bool) -> None:
        """Copy the container's output until the daemon closes the stream."""
        if tty:
            stdcopy.copy_raw(self.reader, stdout)
        else:
            stdcopy.demux(self.reader, stdout, stderr)

    def feed_stdin(self, fd: int) -> threading.Thread:
        """Copy ``fd`` to the container's stdin in a daemon thread, half-closing at EOF."""
        def pump() -> None:
            try:
                while data := os.read(fd, 32 * 1024):
                    self.write(data)
            except OSError:
                return  # the stream closed under us: the container is gone
            self.close_write()

        thread = threading.Thread(target=pump, name="attach-stdin", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._resp.close()
        self._sock.close()
        self._conn.close()

    def __enter__(self) -> HijackedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hijack(transport: Transport, path: str, params: Params) -> HijackedStream:
    """POST ``path`` asking for an upgrade and return the raw stream once granted."""
    conn = transport.connect()
    transport.send(conn, "POST", path, params,
                   headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    # Keep the socket: http.client drops it from a connection whose response will close.
    sock = conn.sock
    assert isinstance(sock, socket.socket)
    resp = transport.check(conn.getresponse())
    return HijackedStream(conn, sock, resp)
