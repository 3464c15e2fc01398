"""Hijacked connections: attach turns the HTTP connection into a raw duplex stream.

The client asks to upgrade, as moby's CLI does::

    POST /v1.45/containers/{id}/attach?stream=1&stdout=1&stderr=1&stdin=1 HTTP/1.1
    Connection: Upgrade
    Upgrade: tcp

    HTTP/1.1 101 UPGRADED            (older daemons answer 200 OK and then stream raw)
    Content-Type: application/vnd.docker.multiplexed-stream
    Connection: Upgrade
    Upgrade: tcp

After the blank line the connection carries the container's output (stdcopy frames
without a tty, raw bytes with one) and takes its stdin; half-closing our write side is
stdin's EOF. The bytes that arrived together with the headers are the start of the output,
so the response hands them over with the connection (``Response.detach`` → ``Stream``),
whichever transport carried it (unix socket, TCP or TLS).
"""

from __future__ import annotations

import json
import os

from berth.client import stdcopy

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from typing import IO, Any

    from berth.client.api import EngineAPI, Params
    from berth.client.transport import Stream

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"


class HijackedStream:
    """The raw stream of one attach: read output, write stdin, half-close."""

    def __init__(self, stream: Stream, content_type: str) -> None:
        self.reader = stream
        self.content_type = content_type
        self.detached = False  # set by the stdin pump when the detach keys were typed

    def write(self, data: bytes) -> None:
        self.reader.write(data)

    def close_write(self) -> None:
        """Signal EOF on the container's stdin, keeping its output flowing."""
        self.reader.close_write()

    def copy_output(self, stdout: IO[bytes], stderr: IO[bytes], tty: bool) -> None:
        """Copy the container's output until the daemon closes the stream."""
        if tty:
            stdcopy.copy_raw(self.reader, stdout)
        else:
            stdcopy.demux(self.reader, stdout, stderr)

    def feed_stdin(self, fd: int, escape: Callable[[bytes], bytes | None] | None = None,
                   ) -> threading.Thread:
        """Copy ``fd`` to the container's stdin in a daemon thread, half-closing at EOF.

        ``escape`` sees each read and returns what to send, or None when the user typed
        the detach keys: the stream is then shut down both ways, which ends
        ``copy_output`` in the main thread, and ``detached`` is set."""
        import threading  # only interactive sessions need a second thread

        def pump() -> None:
            try:
                while data := os.read(fd, 32 * 1024):
                    if escape is not None:
                        sent = escape(data)
                        if sent is None:
                            self.detached = True
                            self.reader.shutdown()
                            return
                        data = sent
                    if data:
                        self.write(data)
            except OSError:
                return  # the stream closed under us: the container is gone
            self.close_write()

        thread = threading.Thread(target=pump, name="attach-stdin", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> HijackedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hijack(api: EngineAPI, path: str, params: Params | None = None,
           payload: Any = None) -> HijackedStream:
    """POST ``path`` (with an optional JSON body, as exec's start has) asking for an
    upgrade and return the raw stream once granted."""
    headers = {"Connection": "Upgrade", "Upgrade": "tcp"}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    resp = api.request("POST", path, params, body, headers)  # an error status raises
    content_type = resp.getheader("Content-Type")
    return HijackedStream(resp.detach(), content_type)
