"""Read a container's json-file log (written by its shim) for ``logs`` and ``logs -f``.

Each line is docker's json-file record: ``{"log": "hi\\n", "stream": "stdout", "time":
"2026-11-28T02:12:38.123456789Z"}``. Following polls the file for appended lines until the
container is no longer running and the file has nothing more to give.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from berth.engine import clock

POLL_SECONDS = 0.05
STDOUT, STDERR = 1, 2


@dataclass(frozen=True)
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    tail: int = -1  # -1: all
    since: float = 0.0  # unix seconds; 0: from the start
    until: float = 0.0  # 0: no end
    timestamps: bool = False


@dataclass(frozen=True)
class LogLine:
    stream: int
    data: bytes
    time: str


def _parse(raw: bytes, opts: LogOptions) -> LogLine | None:
    try:
        rec = json.loads(raw)
    except ValueError:
        return None  # a torn last line while the shim is writing; read again later
    stream = STDERR if rec.get("stream") == "stderr" else STDOUT
    if (stream == STDOUT and not opts.stdout) or (stream == STDERR and not opts.stderr):
        return None
    stamp = rec.get("time", "")
    if opts.since or opts.until:
        ts = clock.parse(stamp)
        if (opts.since and ts < opts.since) or (opts.until and ts > opts.until):
            return None
    data = rec.get("log", "").encode()
    if opts.timestamps:
        data = stamp.encode() + b" " + data
    return LogLine(stream, data, stamp)


def _complete_lines(f: IO[bytes]) -> list[bytes]:
    """Whole lines from the current offset; a partial last line is left for later."""
    out: list[bytes] = []
    while True:
        pos = f.tell()
        line = f.readline()
        if not line:
            return out
        if not line.endswith(b"\n"):
            f.seek(pos)
            return out
        out.append(line)


async def read(path: Path, opts: LogOptions,
               running: Callable[[], bool]) -> AsyncIterator[LogLine]:
    try:
        f = await asyncio.to_thread(open, path, "rb")
    except FileNotFoundError:
        return
    with f:
        lines = await asyncio.to_thread(_complete_lines, f)
        if opts.tail >= 0:
            lines = list(deque(lines, maxlen=opts.tail)) if opts.tail else []
        for raw in lines:
            if (line := _parse(raw, opts)) is not None:
                yield line
        while opts.follow:
            alive = running()
            lines = await asyncio.to_thread(_complete_lines, f)
            for raw in lines:
                if (line := _parse(raw, opts)) is not None:
                    yield line
            if not lines:
                if not alive:
                    return
                await asyncio.sleep(POLL_SECONDS)
