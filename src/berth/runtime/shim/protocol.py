"""What berthd, the zygote and a shim say to each other, and the files a shim leaves.

On-disk layout of one container's state dir (``exec-root/containers/<id>``), and its two
sockets, which live at short paths derived from it (``runtime/sockets.py``)::

    shim.sock     control: newline-delimited JSON, one reply per request, in order
    attach.sock   attach: one JSON line, "ok\\n", then raw bytes both ways
                  (both at /run/berth-shim/<sha256(state dir)[:32]>-<name>)
    shim.pid      the shim's pid          ┐ written atomically (tmp, rename)
    init.pid      the container's init    │
    exit.json     {"exit_code", "oom_killed", "finished_at"} once the container exited
    shim.log      the shim's own diagnostics

Spawning (berthd → zygote → shim; the reply comes from the shim itself)::

    berthd ──{ShimOptions}\\n──▶ zygote ─fork─▶ shim (setsid; conn fd inherited)
    berthd ◀──{"shim_pid", "init_pid"} or {"shim_pid", "error"}\\n──────── shim

Control requests and replies (``shim.sock``)::

    {"op": "start"}                        → {"ok": true}  | {"ok": false, "error": "..."}
    {"op": "kill", "signal": 15}           → {"ok": true}
    {"op": "resize", "height": 24, "width": 80} → {"ok": true}   (each 0..65535: a winsize)
    {"op": "close_stdin"}                  → {"ok": true}
    {"op": "state"}                        → {"ok": true, "pid": 123, "status": "running",
                                              "paused": false}
    {"op": "wait"}                         → (once the container exited and its output
                                              drained) {"ok": true, "exit_code": 3,
                                              "oom_killed": false, "finished_at": 1.7e9}
    {"op": "pause"} / {"op": "resume"}     → {"ok": true} once the freezer settled
    {"op": "exec_create", "exec_id": "e1", → {"ok": true}   (registered; attach.sock now
     "process": {OCI process}, "tty": false,                 accepts {"exec_id": "e1", ...})
     "open_stdin": true}
    {"op": "exec_start", "exec_id": "e1"}  → {"ok": true, "pid": 4242}
    {"op": "exec_wait", "exec_id": "e1"}   → (once it exited and drained; at once after)
                                              {"ok": true, "exit_code": 0}
    {"op": "exec_resize", "exec_id", "height", "width"} → {"ok": true}
    {"op": "exec_close_stdin", "exec_id": "e1"}          → {"ok": true}

A failure is {"ok": false, "error": "...", "kind": "Conflict"} (the errors.py class, so
the client raises the same; no kind: RuntimeFailure). A deferred reply (wait, exec_wait)
holds back the connection's later requests, so clients wait on a connection of their own.
No request kills a shim: one it cannot parse, with values out of range, or that fails in
a way nobody foresaw is answered with a failure, and the shim serves on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from berth.errors import InvalidArgument
from berth.oci.mount import Mount
from berth.runtime.shim import ExitStatus, ShimOptions

CONTROL_SOCKET = "shim.sock"
ATTACH_SOCKET = "attach.sock"
SHIM_PID = "shim.pid"
INIT_PID = "init.pid"
EXIT_FILE = "exit.json"
SHIM_LOG = "shim.log"
MAX_WINDOW = 65535  # a terminal's rows and columns are unsigned shorts (struct winsize)


def options_to_json(opts: ShimOptions) -> dict[str, Any]:
    return {
        "container_id": opts.container_id, "bundle": str(opts.bundle),
        "rootfs_mounts": [m.to_json() for m in opts.rootfs_mounts],
        "state_dir": str(opts.state_dir),
        "log_path": None if opts.log_path is None else str(opts.log_path),
        "runtime": opts.runtime, "tty": opts.tty, "open_stdin": opts.open_stdin,
        "stdin_once": opts.stdin_once, "log_options": [list(kv) for kv in opts.log_options],
    }


def options_from_json(data: dict[str, Any]) -> ShimOptions:
    log_path = data.get("log_path")
    return ShimOptions(
        container_id=str(data["container_id"]), bundle=Path(data["bundle"]),
        rootfs_mounts=tuple(Mount.from_json(m) for m in data["rootfs_mounts"]),
        state_dir=Path(data["state_dir"]),
        log_path=None if log_path is None else Path(log_path),
        runtime=str(data["runtime"]), tty=bool(data.get("tty", False)),
        open_stdin=bool(data.get("open_stdin", False)),
        stdin_once=bool(data.get("stdin_once", False)),
        log_options=tuple((str(k), str(v)) for k, v in data.get("log_options", ())),
    )


def window_size(request: dict[str, Any]) -> tuple[int, int]:
    """(height, width) of a resize request: InvalidArgument unless both are integers in
    0..MAX_WINDOW (TIOCSWINSZ could not pack anything else)."""
    return (_window_value("height", request.get("height")),
            _window_value("width", request.get("width")))


def _window_value(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WINDOW:
        raise InvalidArgument(f"invalid resize {name} {value!r}: not an integer from 0 to "
                              f"{MAX_WINDOW}")
    return value


def encode_line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def exit_to_json(status: ExitStatus) -> dict[str, Any]:
    return {"exit_code": status.exit_code, "oom_killed": status.oom_killed,
            "finished_at": status.finished_at}


def exit_from_json(data: dict[str, Any]) -> ExitStatus:
    return ExitStatus(exit_code=int(data["exit_code"]), oom_killed=bool(data["oom_killed"]),
                      finished_at=float(data["finished_at"]))


def write_atomic(path: Path, data: bytes) -> None:
    """Write, rename: a reader sees the old file or the whole new one, whenever the writer
    dies. No fsync: these files describe live processes under the exec root (a tmpfs in
    production), which a power cut ends along with the processes; only a process crash
    can interrupt a write that matters, and rename covers that."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_exit_status(state_dir: Path) -> ExitStatus | None:
    """The recorded exit status of the container whose shim used ``state_dir``, if any."""
    try:
        data = json.loads((state_dir / EXIT_FILE).read_bytes())
    except FileNotFoundError:
        return None
    return exit_from_json(data)
