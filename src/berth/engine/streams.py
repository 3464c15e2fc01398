"""Bytes made by blocking code (a tar writer) handed to async code as they are made.

The producer runs in a worker thread and writes into a sink; the consumer iterates the
chunks from the event loop. At most ``depth`` chunks wait unread, so a slow HTTP client
slows the producer instead of filling memory::

    worker thread                              event loop
    produce(sink) ─ write ─▶ [chunk buffer] ─▶ slots ─▶ asyncio.Queue ─▶ async for chunk
                               blocks while depth chunks are unread ◀── release per chunk

When the consumer stops early (the client went away), the sink's next write raises
``BrokenPipeError`` in the worker, which unwinds the producer; the worker is always awaited.

The other way, ``write_blocks`` hands chunks that arrive on the event loop (a request
body) to blocking code (a file, a content writer), gathered into blocks so that a body of
many small chunks costs one thread hop per block, not one per chunk.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable

CHUNK = 1 << 18
DEPTH = 8
BLOCK = 1 << 20


class _Closed(BrokenPipeError):
    pass


class ThreadSink:
    """The producer's file: ``write`` buffers into chunks and queues each full one."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 queue: asyncio.Queue[bytes | BaseException | None], depth: int,
                 chunk: int) -> None:
        self._loop = loop
        self._queue = queue
        self._slots = threading.Semaphore(depth)
        self._chunk = chunk
        self._buffer = bytearray()
        self.closed = threading.Event()

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        self._buffer += data
        while len(self._buffer) >= self._chunk:
            self._send(bytes(self._buffer[:self._chunk]))
            del self._buffer[:self._chunk]
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._send(bytes(self._buffer))
            self._buffer.clear()

    def _send(self, item: bytes) -> None:
        while not self._slots.acquire(timeout=1):
            if self.closed.is_set():
                break
        if self.closed.is_set():
            raise _Closed("the reader of the stream went away")
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def finish(self, error: BaseException | None) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, error)

    def taken(self) -> None:
        self._slots.release()

    def close(self) -> None:
        self.closed.set()
        self._slots.release()


async def from_thread(produce: Callable[[ThreadSink], None], depth: int = DEPTH,
                      chunk: int = CHUNK) -> AsyncGenerator[bytes, None]:
    """Run ``produce(sink)`` in a thread and yield what it writes, in order; an exception
    it raises is re-raised here after the chunks written before it."""
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    sink = ThreadSink(asyncio.get_running_loop(), queue, depth, chunk)

    def work() -> None:
        error: BaseException | None = None
        try:
            produce(sink)
            sink.flush()
        except _Closed:
            pass
        except BaseException as err:  # handed to the consumer, which re-raises it
            error = err
        sink.finish(error)

    worker = asyncio.create_task(asyncio.to_thread(work))
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            sink.taken()
            yield item
    finally:
        sink.close()
        await worker


async def write_blocks(chunks: AsyncIterator[bytes], write: Callable[[bytes], object],
                       block: int = BLOCK) -> None:
    """``write`` (blocking, run in a thread) every byte of ``chunks``, in order, in blocks
    of at least ``block`` bytes (the last one shorter)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= block:
            await asyncio.to_thread(write, bytes(buffer))
            buffer.clear()
    if buffer:
        await asyncio.to_thread(write, bytes(buffer))
