"""Read a container's json-file log (written by its shim) for ``logs`` and ``logs -f``.

Each line is docker's json-file record: ``{"log": "hi\\n", "stream": "stdout", "time":
"2026-11-28T02:12:38.123456789Z"}``. The shim rotates the log by rename (see
``runtime/shim/jsonlog.py``), so a log is up to ``max-file`` files, read oldest first::

    <id>-json.log.{N-1}  …  <id>-json.log.1  <id>-json.log   (the one being written)

``tail`` reads blocks backwards from the newest file, so it costs what it returns, not the
size of the log. Following polls the live file; when the file at the path is no longer the
one held open (rotated: renamed away, or truncated with max-file 1) the rest of the old
one is read and the new one opened. It ends once the container is no longer running and
the file has nothing more to give.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote_plus

from berth.engine import clock
from berth.engine.containers.model import Container, LogConfig
from berth.errors import InvalidArgument
from berth.runtime.shim.jsonlog import rotated_path, rotation

POLL_SECONDS = 0.05
STDOUT, STDERR = 1, 2
READ_BYTES = 1 << 20  # per thread hop while reading a file forwards
BLOCK = 64 * 1024  # per backwards read for tail
_OPTIONS = {  # what docker's ValidateLogOpt accepts per driver
    "json-file": {"max-file", "max-size", "compress", "labels", "labels-regex", "env",
                  "env-regex", "tag"},
    "local": {"max-file", "max-size", "compress"},
    "none": set(),
}
LOG_DRIVERS = tuple(_OPTIONS)  # the log drivers berth has
# The drivers docker has built in that berth has not (yet): refused as such, not as
# plugins that cannot be found.
_DOCKER_DRIVERS = frozenset({"syslog", "journald", "gelf", "fluentd", "awslogs", "splunk",
                             "etwlogs", "gcplogs", "logentries"})


@dataclass(frozen=True)
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    tail: int = -1  # -1: all
    since: float = 0.0  # unix seconds; 0: from the start
    until: float = 0.0  # 0: no end
    timestamps: bool = False
    details: bool = False
    attrs: tuple[tuple[str, str], ...] = ()  # extra_attributes(), shown with details


@dataclass(frozen=True)
class LogLine:
    stream: int
    data: bytes
    time: str


def validate_config(cfg: LogConfig) -> None:
    """Refuse at create what docker's log driver would refuse (docker's messages)."""
    allowed = _OPTIONS.get(cfg.type)
    if allowed is None and cfg.type in _DOCKER_DRIVERS:
        raise InvalidArgument(f"berth does not support the {cfg.type} log driver yet")
    if allowed is None:  # docker looks for a plugin of that name
        raise InvalidArgument(f"error looking up logging plugin {cfg.type}: plugin "
                              f'"{cfg.type}" not found')
    options = dict(cfg.options)
    for key in options:
        if key not in allowed:
            raise InvalidArgument(f"unknown log opt '{key}' for {cfg.type} log driver")
    try:
        rotation(options)
        for key in ("labels-regex", "env-regex"):
            if key in options:
                re.compile(options[key])
    except (ValueError, re.error) as err:
        raise InvalidArgument(f"failed to create logger: {err}") from None
    if options.get("compress", "false").lower() not in ("1", "t", "true", "0", "f", "false"):
        raise InvalidArgument(f'failed to create logger: strconv.ParseBool: parsing '
                              f'"{options["compress"]}": invalid syntax')


def extra_attributes(c: Container) -> tuple[tuple[str, str], ...]:
    """docker's ``logger.Info.ExtraAttributes``: the labels and env values named by the
    ``labels``/``labels-regex``/``env``/``env-regex`` log options, sorted by key. docker
    stores them in each record's ``attrs``; they never change for a container, so Berth
    computes them when reading instead."""
    opts = dict(c.spec.log_config.options)
    labels = dict(c.labels)
    env = dict(e.split("=", 1) for e in c.env if "=" in e)
    extra: dict[str, str] = {}
    for source, names_key, regex_key in ((labels, "labels", "labels-regex"),
                                         (env, "env", "env-regex")):
        for name in filter(None, opts.get(names_key, "").split(",")):
            if name in source:
                extra[name] = source[name]
        if opts.get(regex_key):
            pattern = re.compile(opts[regex_key])
            extra.update((k, v) for k, v in source.items() if pattern.search(k))
    return tuple(sorted(extra.items()))


def _details(attrs: Iterable[tuple[str, str]]) -> bytes:
    """moby's ``attrsByteSlice``: ``k=v,k2=v2`` query-escaped, then a space."""
    return ",".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in attrs).encode() + b" "


def _fixed_nano(stamp: str) -> str:
    """RFC3339NanoFixed (what ``--timestamps`` prints): always nine fraction digits."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return f"{head}.{frac:0<9}Z"


def _parse(raw: bytes, opts: LogOptions) -> LogLine | None:
    try:
        rec = json.loads(raw)
    except ValueError:
        return None  # not a record (a file damaged by hand); skip it
    stream = STDERR if rec.get("stream") == "stderr" else STDOUT
    if (stream == STDOUT and not opts.stdout) or (stream == STDERR and not opts.stderr):
        return None
    stamp = rec.get("time", "")
    if opts.since or opts.until:
        ts = clock.parse(stamp)
        if (opts.since and ts < opts.since) or (opts.until and ts > opts.until):
            return None
    data = rec.get("log", "").encode()
    if opts.details:
        data = _details(opts.attrs) + data
    if opts.timestamps:
        data = _fixed_nano(stamp).encode() + b" " + data
    return LogLine(stream, data, stamp)


def log_files(path: Path) -> list[Path]:
    """The files of a rotated log, oldest first (the live one last)."""
    older: list[Path] = []
    while rotated_path(path, len(older) + 1).exists():
        older.append(rotated_path(path, len(older) + 1))
    return [*reversed(older), path]


def _complete_lines(f: IO[bytes], limit: int = READ_BYTES) -> list[bytes]:
    """Whole lines from the current offset (about ``limit`` bytes of them); a partial
    last line is left for later."""
    lines = f.readlines(limit)
    if lines and not lines[-1].endswith(b"\n"):
        f.seek(-len(lines.pop()), os.SEEK_CUR)
    return lines


def _complete_end(f: IO[bytes]) -> int:
    """The offset just past the last newline of ``f`` (the writer may be mid-record)."""
    end = os.fstat(f.fileno()).st_size
    while end > 0:
        start = max(0, end - BLOCK)
        f.seek(start)
        nl = f.read(end - start).rfind(b"\n")
        if nl >= 0:
            return start + nl + 1
        end = start
    return 0


def _tail(files: list[tuple[IO[bytes], int]], n: int) -> list[bytes]:
    """The last ``n`` lines of ``files`` (each with the offset to read up to), newest
    file first; reads backwards block by block."""
    found: list[bytes] = []  # newest first
    for f, end in files:
        pos, rest = end, b""
        while pos > 0 and len(found) < n:
            size = min(BLOCK, pos)
            pos -= size
            f.seek(pos)
            lines = (f.read(size) + rest).split(b"\n")
            rest = lines[0] if pos else b""  # a line that began in an earlier block
            for line in reversed(lines if not pos else lines[1:]):
                if line:
                    found.append(line + b"\n")
        if len(found) >= n:
            break
    return found[:n][::-1]


def _open_existing(paths: list[Path]) -> list[IO[bytes]]:
    files: list[IO[bytes]] = []
    for p in paths:
        try:
            files.append(open(p, "rb"))  # closed by read()
        except FileNotFoundError:
            continue  # rotated away since it was listed
    return files


async def read(path: Path, opts: LogOptions,
               running: Callable[[], bool]) -> AsyncIterator[LogLine]:
    files = await asyncio.to_thread(_open_existing, log_files(path))
    try:
        if not files or files[-1].name != str(path):
            return  # no live file: the log is gone
        live = files[-1]
        if opts.tail >= 0:
            def tail() -> list[bytes]:
                ends = [(f, _complete_end(f)) for f in files]
                lines = _tail(ends[::-1], opts.tail) if opts.tail else []
                live.seek(ends[-1][1])
                return lines
            for raw in await asyncio.to_thread(tail):
                if (line := _parse(raw, opts)) is not None:
                    yield line
        else:
            for f in files:
                while lines := await asyncio.to_thread(_complete_lines, f):
                    for raw in lines:
                        if (line := _parse(raw, opts)) is not None:
                            yield line
        while opts.follow:
            alive = running()
            lines = await asyncio.to_thread(_complete_lines, live)
            for raw in lines:
                if (line := _parse(raw, opts)) is not None:
                    yield line
            if lines:
                continue
            reopened = await asyncio.to_thread(_reopen_if_rotated, path, live)
            if reopened is not None:
                files.append(reopened)
                live = reopened
            elif not alive:
                return
            else:
                await asyncio.sleep(POLL_SECONDS)
    finally:
        for f in files:
            f.close()


def _reopen_if_rotated(path: Path, live: IO[bytes]) -> IO[bytes] | None:
    """The new live file if ``live`` was rotated away (and fully read), else None; with
    max-file 1 the file is truncated in place instead, so read it again from its start."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return None  # between the rename and the new file's creation
    held = os.fstat(live.fileno())
    if (current.st_ino, current.st_dev) != (held.st_ino, held.st_dev):
        return open(path, "rb")
    if current.st_size < live.tell():
        live.seek(0)
    return None
