"""The zygote: a warm, single-threaded process that forks shims for berthd.

berthd starts it once (``python -m berth.runtime.shim.zygote --socket PATH``); it dies with
berthd (PR_SET_PDEATHSIG), the shims it forked do not::

    berthd                zygote                          shim (child)
    ──────                ──────                          ────────────
    connect, send ──────▶ accept, read line
    {ShimOptions}\\n       fork ─────────────────────────▶ close listener, setsid
                          close conn                      run_shim(opts, conn):
                          prime the cgroup migration lock   mounts, create …
    read reply ◀─────────────────────────────────────────── {"shim_pid", "init_pid"|"error"}

One fork, not two: the zygote ignores SIGCHLD, so the kernel reaps a shim that exits while
the zygote lives, and when the zygote dies its shims are reparented to init (or the nearest
subreaper) and keep running. A shim is in its own session, so berthd dying or its terminal
hanging up does not touch it. Every fork of this heap costs milliseconds; the second one a
double fork would add bought nothing once the zygote no longer has to wait for children.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys

from berth.runtime.linux import syscalls
from berth.runtime.linux.cgroups import prime_migration
from berth.runtime.shim import ShimOptions
from berth.runtime.shim import main as shim_main
from berth.runtime.shim.protocol import encode_line, options_from_json
from berth.runtime.shim.runtimes import preload

log = logging.getLogger(__name__)

_MAX_REQUEST = 1 << 20


def serve(listener: socket.socket) -> None:
    while True:
        conn, _ = listener.accept()
        try:
            request = _read_line(conn)
            if not request:  # a readiness probe: connect and close
                conn.close()
                continue
            opts = options_from_json(json.loads(request))
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("bad spawn request: %s", err)
            _reply_error(conn, f"bad spawn request: {err}")
            continue
        # SIGTERM is held across the fork: the child drops the zygote's handler (which
        # removes the zygote's socket) before it can run there
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            _become_shim(listener, conn, opts)  # never returns
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        conn.close()
        # The new container's init joins its cgroup a few ms from now; pay the kernel's
        # wait for that migration here, while the shim sets up (see prime_migration).
        prime_migration()


def _become_shim(listener: socket.socket, conn: socket.socket, opts: ShimOptions) -> None:
    code = 1
    try:
        listener.close()
        os.setsid()
        code = shim_main.run_shim(opts, conn)
    except BaseException:
        logging.getLogger(__name__).exception("shim failed")
    finally:
        os._exit(code)


def _read_line(conn: socket.socket) -> bytes:
    buf = bytearray()
    while b"\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk and not buf:
            return b""
        if not chunk or len(buf) > _MAX_REQUEST:
            raise ValueError("request not terminated")
        buf += chunk
    return bytes(buf.partition(b"\n")[0])


def _reply_error(conn: socket.socket, message: str) -> None:
    try:
        conn.sendall(encode_line({"error": message}))
    except OSError:
        pass  # the client went away: nothing to tell
    conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="berth-zygote")
    parser.add_argument("--socket", required=True)
    args = parser.parse_args(argv)
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # berthd died before the prctl took effect
        sys.exit(0)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s zygote %(levelname)s %(name)s: %(message)s")
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps exited shims
    # Everything allocated so far lives as long as the zygote: move it out of the GC's
    # generations, so a shim's collections never walk (and so copy-on-write) these pages.
    gc.freeze()
    path = args.socket
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    listener.bind(path)
    bound = os.stat(path).st_ino
    signal.signal(signal.SIGTERM, lambda signum, frame: _exit_removing(path, bound))
    listener.listen(64)
    serve(listener)


def _exit_removing(path: str, bound: int) -> None:
    """SIGTERM (berthd stopped, or died: PDEATHSIG): take the socket along, unless a new
    zygote has bound that path since (its socket is another inode), then exit at once.
    Forked shims reset SIGTERM first thing (``serve``) and are not affected."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == bound:
            os.unlink(path)
    os._exit(0)


if __name__ == "__main__":
    main()
