"""``berth stats [-a] [--no-stream] [--no-trunc] [--format F] [CONTAINER...]``: docker
CLI 28's ``stats`` (cli/command/container/stats.go, stats_helpers.go, formatter_stats.go).

One reader thread per container holds a ``/containers/{id}/stats`` stream (or one
``stream=false`` answer) and keeps its latest figures; the table is drawn from those,
every 0.5 s while streaming (cursor home, each line followed by erase-to-end-of-line,
then erase-below, as docker does), once with ``--no-stream``. Without names, the running
containers (``-a``: all) are listed and, while streaming, events add started (and with
``-a`` created) ones and drop died (without ``-a``) and destroyed ones.

The figures are docker's::

    CPU %     (Δ total_usage / Δ system_cpu_usage) * online_cpus * 100
    MEM       usage - total_inactive_file (cgroup v1) or - inactive_file (v2)
    MEM %     MEM / limit * 100
    NET I/O   Σ rx_bytes / Σ tx_bytes over the interfaces
    BLOCK I/O Σ io_service_bytes_recursive with op Read / Write
"""

from __future__ import annotations

import threading
import time

from berth import errors
from berth.cli.command import Command, StatusError, daemon_message
from berth.cli.flags import Flag
from berth.cli.output import human_size, pick_format, render, truncate_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "stats", "[OPTIONS] [CONTAINER...]",
    "Display a live stream of container(s) resource usage statistics",
    (Flag("all", "a", "bool", help="Show all containers (default shows just running)"),
     Flag("format", kind="str", default="", help="Format output using a custom template"),
     Flag("no-stream", kind="bool",
          help="Disable streaming stats and only pull the first result"),
     Flag("no-trunc", kind="bool", help="Do not truncate output")),
    aliases=("container stats", "stats"))

DEFAULT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
           "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")
HEADERS: dict[str, object] = {
    "Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}
REDRAW = 0.5  # docker's ticker
NO_VALUE = "--"
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


# ── docker's calculators (stats_helpers.go) ────────────────────────────────────────────

def cpu_percent(previous: Mapping[str, Any], current: Mapping[str, Any]) -> float:
    """``calculateCPUPercentUnix`` over two ``cpu_stats`` documents."""
    usage = current.get("cpu_usage") or {}
    cpu_delta = float(usage.get("total_usage", 0)) - float(
        (previous.get("cpu_usage") or {}).get("total_usage", 0))
    system_delta = float(current.get("system_cpu_usage", 0)) - float(
        previous.get("system_cpu_usage", 0))
    online = float(current.get("online_cpus", 0)) or float(len(usage.get("percpu_usage") or ()))
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def mem_usage_no_cache(memory: Mapping[str, Any]) -> float:
    """``calculateMemUsageUnixNoCache``: usage without the inactive page cache."""
    usage = int(memory.get("usage", 0))
    stats = memory.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:  # v1
        return float(usage - stats["total_inactive_file"])
    inactive = int(stats.get("inactive_file", 0))  # v2
    if inactive < usage:
        return float(usage - inactive)
    return float(usage)


def mem_percent(limit: float, used: float) -> float:
    return used / limit * 100.0 if limit else 0.0


def block_io(blkio: Mapping[str, Any]) -> tuple[int, int]:
    """``calculateBlockIO``: read and written bytes (ops by their first letter)."""
    read = write = 0
    for entry in blkio.get("io_service_bytes_recursive") or ():
        op = str(entry.get("op", ""))[:1].lower()
        if op == "r":
            read += int(entry.get("value", 0))
        elif op == "w":
            write += int(entry.get("value", 0))
    return read, write


def network_io(networks: Mapping[str, Any] | None) -> tuple[float, float]:
    rx = tx = 0.0
    for counters in (networks or {}).values():
        rx += float(counters.get("rx_bytes", 0))
        tx += float(counters.get("tx_bytes", 0))
    return rx, tx


def bytes_size(size: float) -> str:
    """go-units ``BytesSize``: binary units, ``%.4g`` ("244KiB", "64MiB")."""
    i = 0
    while size >= 1024 and i < len(_BINARY) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{_BINARY[i]}"


def percentage(value: float) -> str:
    return f"{value:.2f}%"


class Entry:
    """One container's figures (docker's ``StatsEntry``); ``invalid``: shown as "--"."""

    __slots__ = ("block_read", "block_write", "container", "cpu", "id", "invalid", "memory",
                 "memory_limit", "memory_percent", "name", "net_rx", "net_tx", "pids")

    def __init__(self, container: str, doc: Mapping[str, Any] | None = None) -> None:
        self.container = container
        self.invalid = False
        doc = doc or {}
        self.name = str(doc.get("name", ""))
        self.id = str(doc.get("id", ""))
        memory = doc.get("memory_stats") or {}
        self.cpu = cpu_percent(doc.get("precpu_stats") or {}, doc.get("cpu_stats") or {})
        self.memory = mem_usage_no_cache(memory)
        self.memory_limit = float(memory.get("limit", 0))
        self.memory_percent = mem_percent(self.memory_limit, self.memory)
        self.net_rx, self.net_tx = network_io(doc.get("networks"))
        self.block_read, self.block_write = block_io(doc.get("blkio_stats") or {})
        self.pids = int((doc.get("pids_stats") or {}).get("current", 0))

    def row(self, trunc: bool) -> dict[str, Any]:
        """The fields a template sees, as docker's ``statsContext`` renders them."""
        bad = self.invalid
        fields = {
            "Container": self.container,
            "Name": self.name[1:] if len(self.name) > 1 else NO_VALUE,
            "ID": truncate_id(self.id) if trunc else self.id,
            "CPUPerc": NO_VALUE if bad else percentage(self.cpu),
            "MemUsage": "-- / --" if bad else (
                f"{bytes_size(self.memory)} / {bytes_size(self.memory_limit)}"),
            "MemPerc": NO_VALUE if bad else percentage(self.memory_percent),
            "NetIO": NO_VALUE if bad else (
                f"{human_size(self.net_rx)} / {human_size(self.net_tx)}"),
            "BlockIO": NO_VALUE if bad else (
                f"{human_size(self.block_read)} / {human_size(self.block_write)}"),
            "PIDs": NO_VALUE if bad else str(self.pids),
        }
        return dict(sorted(fields.items()))  # {{json .}}: Go's sorted keys


# ── collection ─────────────────────────────────────────────────────────────────────────

class Reader:
    """The latest figures of one container, kept up to date by a daemon thread."""

    def __init__(self, ctx: Context, container: str, stream: bool) -> None:
        self.container = container
        self.entry = Entry(container)
        self.error: errors.BerthError | None = None
        self.first = threading.Event()
        self._ctx = ctx
        self._stream = stream
        self.gone = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        from berth.client.api import json_lines, quote_id

        try:
            resp = self._ctx.client.api.request(
                "GET", f"/containers/{quote_id(self.container)}/stats",
                {"stream": self._stream})
            for doc in json_lines(resp):
                self.entry = Entry(self.container, doc)
                self.first.set()
                if not self._stream:
                    break
        except errors.BerthError as err:
            self.error = err
        except (OSError, ValueError):
            pass  # the daemon went away: docker shows the row as "--"
        invalid = Entry(self.container)
        invalid.name, invalid.id, invalid.invalid = self.entry.name, self.entry.id, True
        if self._stream or self.error is not None:
            self.entry = invalid
        self.first.set()


class Readers:
    def __init__(self, ctx: Context, stream: bool) -> None:
        self._ctx = ctx
        self._stream = stream
        self._lock = threading.Lock()
        self.readers: list[Reader] = []

    def add(self, container: str) -> None:
        with self._lock:
            if any(r.container == container for r in self.readers):
                return
            self.readers.append(Reader(self._ctx, container, self._stream))

    def remove(self, container: str) -> None:
        with self._lock:
            self.readers = [r for r in self.readers if r.container != container]

    def snapshot(self) -> list[Reader]:
        with self._lock:
            return list(self.readers)

    def wait_first(self) -> None:
        for reader in self.snapshot():
            reader.first.wait(2.0)  # docker gives up on a container after 2 s


def _watch_events(ctx: Context, readers: Readers, every: bool, started: threading.Event,
                  ended: threading.Event) -> None:
    """docker's event handlers: start (and create with -a) add, die (without -a) and
    destroy remove. ``ended`` once the event stream is gone (the daemon stopped)."""
    add = {"start", "create"} if every else {"start"}
    drop = {"destroy"} if every else {"destroy", "die"}
    try:
        events = ctx.client.events(filters={"type": ["container"]})
        started.set()
        for ev in events:
            action, actor = ev.get("Action") or ev.get("status"), ev.get("id") or ""
            if action in add:
                readers.add(str(actor)[:12])  # docker 28 follows ids cut to 12
            elif action in drop:
                readers.remove(str(actor)[:12])
    except (errors.BerthError, OSError, ValueError):
        pass
    finally:
        started.set()
        ended.set()


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    stream = not opts.no_stream
    ctx.client  # noqa: B018  made once here, not raced for by the reader threads
    readers = Readers(ctx, stream)
    ended = threading.Event()  # without names: the daemon's event stream is gone
    if args:
        for name in args:
            readers.add(name)
        readers.wait_first()
        failed = [r.error for r in readers.snapshot() if r.error is not None]
        if failed:
            raise StatusError(1, "\n".join(daemon_message(e) for e in failed))
    else:
        if stream:
            started = threading.Event()
            threading.Thread(target=_watch_events,
                             args=(ctx, readers, opts.all, started, ended),
                             daemon=True).start()
            started.wait(5.0)  # subscribed before listing, so no start is missed
        for c in ctx.client.containers.list(all=opts.all):
            readers.add(c.id[:12])  # .Container shows it
        readers.wait_first()
    fmt = pick_format(opts.format, False, DEFAULT, DEFAULT)
    trunc = not opts.no_trunc
    if not stream:
        ctx.stdout.write(_table(fmt, readers, trunc))
        return 0
    while True:
        text = _table(fmt, readers, trunc)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        ctx.stdout.write("\033[H" + "".join(line + "\033[K\n" for line in lines) + "\033[J")
        ctx.stdout.flush()
        if (not readers.snapshot() and args) or ended.is_set():
            return 0  # docker quits quietly when the daemon goes away
        time.sleep(REDRAW)


def _table(fmt: str, readers: Readers, trunc: bool) -> str:
    rows = [r.entry.row(trunc) for r in readers.snapshot()]
    return render(fmt, rows, HEADERS, "*container.statsContext")
