"""The shim: one small monitor process per container that outlives berthd.

berthd never forks. At start it launches one *zygote* (``python -m
berth.runtime.shim.zygote``), a warm single-threaded process with the runtime already
imported. To start a container berthd asks the zygote; the zygote forks and the child
becomes that container's shim (setsid, PR_SET_CHILD_SUBREAPER, never berthd's child), so a
shim start costs a fork, not a Python start.

The shim owns the container's stdio (pipes, or a pty with ``tty``), writes the json-file
log, serves attach connections, records the exit status atomically in
``state_dir/exit.json`` and exits after the container has exited and every attached
client has drained. berthd talks to it over its ``shim.sock`` (at a short path derived
from ``state_dir``: ``runtime/sockets.py``); after a daemon restart it reconnects there
(live restore) or, if the shim is gone, reads exit.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from berth.oci.mount import Mount


@dataclass(frozen=True)
class ShimOptions:
    container_id: str
    bundle: Path  # holds config.json; rootfs_mounts are mounted at bundle/rootfs
    rootfs_mounts: tuple[Mount, ...]
    state_dir: Path  # exec-root/containers/<id>: exit.json, pids; names the sockets
    log_path: Path | None  # json-file log; None for --log-driver none
    runtime: str  # "native", "runc", "crun", or the path of a runc-compatible binary
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    log_options: tuple[tuple[str, str], ...] = ()  # LogConfig.Config: max-size, max-file


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int
    oom_killed: bool
    finished_at: float  # unix time, seconds
