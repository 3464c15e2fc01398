"""The userland port proxy (docker-proxy's role): one process per container listens on the
container's published host ports and relays to its address.

It is used where the kernel path (iptables DNAT) is unavailable, or beside it when
daemon.toml asks (``userland_proxy``). Published ports must keep working while berthd is
stopped or restarting, so the proxy is not a thread of berthd but a process of its own,
detached from berthd and found again by its pid file::

    berthd: start(state_dir, ports)
      writes <state_dir>/proxy.json, a pipe
      spawns `python -m berth.net.proxy <state_dir>/proxy.json <pipe fd>` (new session)
                    │ binds every port
                    │   a port refused ─▶ "error <docker's text>" on the pipe, exit 1
                    │ forks; the first process exits (berthd reaps it), the second is
                    │   adopted by init, so it never lingers as berthd's zombie
                    │ "ready <pid>" on the pipe ─▶ berthd writes <state_dir>/proxy.pid
                    ▼
      relays until SIGTERM: TCP by os.splice through a pipe, one thread per direction
      (EOF on one side is shutdown(SHUT_WR) on the other: half-close passes through);
      UDP one connected socket per client address, dropped after UDP_IDLE seconds idle

``stop`` signals the pid only if ``/proc/<pid>/cmdline`` is this proxy for this state
dir, so a stale pid file never kills a stranger. The proxy process imports only the
standard library (it is on a container's start path).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import select
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # berthd passes Paths; the proxy process need not import pathlib
    from pathlib import Path

CONFIG = "proxy.json"
PIDFILE = "proxy.pid"
LOGFILE = "proxy.log"
MODULE = "berth.net.proxy"
READY_TIMEOUT = 10.0  # seconds for the proxy to bind every port
STOP_TIMEOUT = 5.0  # seconds after SIGTERM before SIGKILL
CONNECT_TIMEOUT = 10.0
UDP_IDLE = 90.0  # docker-proxy's UDP conntrack timeout
PIPE_SIZE = 1 << 20  # the relay pipe: bigger pipes mean fewer splice calls


@dataclass(frozen=True)
class ProxyPort:
    proto: str  # tcp | udp
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int


# ── berthd's side ─────────────────────────────────────────────────────────────────────


def start(state_dir: Path, ports: Sequence[ProxyPort]) -> int:
    """Start the proxy for ``ports`` and return its pid once every port is bound; a port
    that cannot be bound raises RuntimeFailure with docker's words, and nothing is left."""
    # imported here, on berthd's side only: the proxy process needs neither
    import subprocess

    from berth.errors import RuntimeFailure

    stop(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    config = _config_path(state_dir)
    _write_atomically(config, json.dumps({"ports": [asdict(p) for p in ports]}))
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        with open(state_dir / LOGFILE, "ab") as logfile:
            proc = subprocess.Popen(
                [sys.executable, "-m", MODULE, config, str(w)], stdin=subprocess.DEVNULL,
                stdout=logfile, stderr=logfile, pass_fds=(w,), start_new_session=True,
                cwd="/")
        os.close(w)
        w = -1
        message = _read_ready(r)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    if message.startswith("ready "):
        proc.wait()
        pid = int(message.split()[1])
        _write_atomically(state_dir / PIDFILE, f"{pid}\n")
        return pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # a proxy that hung or half-started: all of it
    proc.wait()
    _remove_files(state_dir)
    if message.startswith("error "):
        raise RuntimeFailure(message[len("error "):])
    raise RuntimeFailure(f"Error starting userland proxy: {message or 'no answer'}")


def stop(state_dir: Path) -> None:
    """Stop the proxy of ``state_dir`` if one runs, and remove its files. Idempotent."""
    pid = _our_pid(state_dir)
    if pid is not None:
        for sig, timeout in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if _wait_gone(pid, state_dir, timeout):
                break
    _remove_files(state_dir)


def running(state_dir: Path) -> bool:
    return _our_pid(state_dir) is not None


def _config_path(state_dir: Path) -> str:
    return os.path.abspath(state_dir / CONFIG)


def _our_pid(state_dir: Path) -> int | None:
    """The pid in proxy.pid if that process is this state dir's proxy (and not a zombie:
    a zombie's cmdline is empty)."""
    try:
        pid = int((state_dir / PIDFILE).read_text())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except (OSError, ValueError):
        return None
    ours = MODULE.encode() in argv and os.fsencode(_config_path(state_dir)) in argv
    return pid if ours else None


def _wait_gone(pid: int, state_dir: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _our_pid(state_dir) == pid:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _remove_files(state_dir: Path) -> None:
    for name in (PIDFILE, CONFIG, LOGFILE):
        (state_dir / name).unlink(missing_ok=True)


def _write_atomically(path: str | Path, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _read_ready(fd: int) -> str:
    """The proxy's one line on the readiness pipe ('' if it died or said nothing)."""
    data = b""
    deadline = time.monotonic() + READY_TIMEOUT
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return "timed out binding the published ports"
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


# ── the proxy process ─────────────────────────────────────────────────────────────────


class _BindError(Exception):
    pass


def _listen(p: ProxyPort) -> socket.socket:
    """The host socket of one port, bound (and listening for TCP)."""
    host = p.host_ip or "0.0.0.0"
    v6 = ":" in host
    tcp = p.proto == "tcp"
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                      socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    try:
        if tcp:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, p.host_port))
        if tcp:
            s.listen(1024)
    except OSError as err:
        s.close()
        shown = f"[{host}]" if v6 else host
        reason = os.strerror(err.errno) if err.errno else str(err)
        reason = "address already in use" if err.errno == errno.EADDRINUSE else \
            reason[:1].lower() + reason[1:]  # Go's words: "bind: permission denied"
        raise _BindError(f"Error starting userland proxy: listen {p.proto}{6 if v6 else 4} "
                         f"{shown}:{p.host_port}: bind: {reason}") from err
    return s


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Move src's bytes to dst through a pipe with splice (no copies through Python);
    src's EOF becomes dst's SHUT_WR; an error aborts both directions."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        chunk = fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)
        sfd, dfd = src.fileno(), dst.fileno()
        while True:
            n = os.splice(sfd, w, chunk, flags=os.SPLICE_F_MOVE)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dfd, n, flags=os.SPLICE_F_MOVE)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
    finally:
        os.close(r)
        os.close(w)


def _tcp_session(client: socket.socket, target: tuple[str, int]) -> None:
    with client:
        try:
            upstream = socket.create_connection(target, timeout=CONNECT_TIMEOUT)
        except OSError as err:
            print(f"proxy: connecting to {target[0]}:{target[1]}: {err}", file=sys.stderr)
            return
        with upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join()


def _serve_tcp(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            conn, _addr = listener.accept()
        except OSError as err:
            if err.errno in (errno.EBADF, errno.EINVAL):
                return  # the listener is gone
            if err.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                time.sleep(0.1)  # out of descriptors: let sessions end, then accept again
            continue
        threading.Thread(target=_tcp_session, args=(conn, target), daemon=True).start()


def _serve_udp(listener: socket.socket, target: tuple[str, int]) -> None:
    """One connected socket toward the container per client address, so replies find
    their client; flows idle for UDP_IDLE seconds are dropped."""
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    flows: dict[object, tuple[socket.socket, list[float]]] = {}
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    while True:
        events = sel.select(timeout=UDP_IDLE / 4)
        now = time.monotonic()
        for key, _mask in events:
            with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                if key.data is None:
                    data, addr = listener.recvfrom(65535)
                    if addr not in flows:
                        s = socket.socket(family, socket.SOCK_DGRAM)
                        s.setblocking(False)
                        s.connect(target)
                        sel.register(s, selectors.EVENT_READ, addr)
                        flows[addr] = (s, [now])
                    s, seen = flows[addr]
                    seen[0] = now
                    s.send(data)
                else:
                    s, seen = flows[key.data]
                    listener.sendto(s.recv(65535), key.data)
                    seen[0] = now
        for addr, (s, seen) in list(flows.items()):
            if now - seen[0] > UDP_IDLE:
                sel.unregister(s)
                s.close()
                del flows[addr]


def main(argv: Sequence[str] | None = None) -> int:
    """The proxy process: ``proxy.json [ready fd]``. With a ready fd it detaches (forks,
    the parent exits) and reports on the fd, as ``start`` expects."""
    args = list(sys.argv[1:] if argv is None else argv)
    ready = int(args[1]) if len(args) > 1 else -1
    with open(args[0]) as f:
        ports = [ProxyPort(**p) for p in json.load(f)["ports"]]
    try:
        bound = [(p, _listen(p)) for p in ports if p.proto in ("tcp", "udp")]
    except _BindError as err:
        _tell(ready, f"error {err}")
        return 1
    for p in ports:
        if p.proto not in ("tcp", "udp"):
            print(f"proxy: {p.proto} is not proxied ({p.host_port})", file=sys.stderr)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # the relay threads inherit it
    if ready >= 0:
        if os.fork() > 0:
            os._exit(0)
        _tell(ready, f"ready {os.getpid()}")
    for p, sock in bound:
        serve = _serve_tcp if p.proto == "tcp" else _serve_udp
        threading.Thread(target=serve, args=(sock, (p.container_ip, p.container_port)),
                         daemon=True).start()
    signal.sigwait(stop_signals)
    return 0


def _tell(fd: int, line: str) -> None:
    if fd >= 0:
        os.write(fd, f"{line}\n".encode())
        os.close(fd)
    elif line.startswith("error "):
        print(line[len("error "):], file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
