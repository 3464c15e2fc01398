"""The shim's event loop: a few dozen lines over ``selectors`` instead of asyncio.

The shim is single-threaded and reaps children itself (it is the subreaper), so it avoids
asyncio's child watchers and threads. ``Loop`` calls back on readable/writable fds;
``Connection`` is a non-blocking socket with an unbounded output buffer, so a slow peer
never loses bytes and never blocks the loop (the owner applies back-pressure by looking at
``pending``)."""

from __future__ import annotations

import errno
import itertools
import logging
import selectors
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Callback = Callable[[], None]


class Loop:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._readers: dict[int, Callback] = {}
        self._writers: dict[int, Callback] = {}
        self._timers: dict[int, tuple[float, Callback]] = {}
        self._timer_ids = itertools.count(1)

    def call_later(self, delay: float, callback: Callback) -> int:
        """Run ``callback`` once, ``delay`` seconds from now; returns a handle for cancel."""
        handle = next(self._timer_ids)
        self._timers[handle] = (time.monotonic() + delay, callback)
        return handle

    def cancel(self, handle: int) -> None:
        self._timers.pop(handle, None)

    def add_reader(self, fd: int, callback: Callback) -> None:
        self._readers[fd] = callback
        self._sync(fd)

    def remove_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None:
            self._sync(fd)

    def add_writer(self, fd: int, callback: Callback) -> None:
        self._writers[fd] = callback
        self._sync(fd)

    def remove_writer(self, fd: int) -> None:
        if self._writers.pop(fd, None) is not None:
            self._sync(fd)

    def run_once(self, timeout: float | None) -> None:
        if self._timers:
            until_timer = min(when for when, _ in self._timers.values()) - time.monotonic()
            timeout = max(0.0, until_timer if timeout is None else min(timeout, until_timer))
        for key, events in self._selector.select(timeout):
            fd = key.fd
            if events & selectors.EVENT_READ and fd in self._readers:
                self._readers[fd]()
            if events & selectors.EVENT_WRITE and fd in self._writers:
                self._writers[fd]()
        now = time.monotonic()
        for handle, (when, callback) in list(self._timers.items()):
            if when <= now and self._timers.pop(handle, None) is not None:
                callback()

    def _sync(self, fd: int) -> None:
        events = ((selectors.EVENT_READ if fd in self._readers else 0)
                  | (selectors.EVENT_WRITE if fd in self._writers else 0))
        registered = fd in self._selector.get_map()
        if not events:
            if registered:
                self._selector.unregister(fd)
        elif registered:
            self._selector.modify(fd, events)
        else:
            self._selector.register(fd, events)


class Connection:
    """A peer on one of the shim's sockets. ``on_data(b"")`` means the peer's EOF."""

    def __init__(self, loop: Loop, sock: socket.socket,
                 on_data: Callable[[Connection, bytes], None],
                 on_close: Callable[[Connection], None]) -> None:
        sock.setblocking(False)
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.closed = False
        self.eof = False
        self._out = bytearray()
        self._on_data = on_data
        self._on_close = on_close
        self._close_when_flushed = False
        loop.add_reader(self.fd, self._readable)

    @property
    def pending(self) -> int:
        return len(self._out)

    def rebind(self, on_data: Callable[[Connection, bytes], None],
               on_close: Callable[[Connection], None]) -> None:
        """Hand the connection to a new owner (after an attach handshake names its target)."""
        self._on_data = on_data
        self._on_close = on_close

    def pause_reading(self) -> None:
        self.loop.remove_reader(self.fd)

    def resume_reading(self) -> None:
        if not self.closed and not self.eof:
            self.loop.add_reader(self.fd, self._readable)

    def send(self, data: bytes) -> None:
        if self.closed or not data:
            return
        if not self._out:
            self.loop.add_writer(self.fd, self._writable)
        self._out += data

    def close_when_flushed(self) -> None:
        """Finish: send what is buffered, then close (the peer sees EOF)."""
        self._close_when_flushed = True
        if not self._out:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.fd)
        self.loop.remove_writer(self.fd)
        self._out.clear()
        self.sock.close()
        self._on_close(self)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as err:
            log.debug("peer read failed: %s", err)
            self.close()
            return
        if not data:
            self.eof = True
            self.loop.remove_reader(self.fd)
        self._on_data(self, data)

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self._out)
        except BlockingIOError:
            return
        except OSError as err:
            if err.errno not in (errno.EPIPE, errno.ECONNRESET):
                log.warning("peer write failed: %s", err)
            self.close()
            return
        del self._out[:sent]
        if not self._out:
            self.loop.remove_writer(self.fd)
            if self._close_when_flushed:
                self.close()
