"""The userland port proxy as a real detached process relaying between loopback ports the
test owns: large transfers intact both ways, half-close, UDP, docker's error for a port in
use with nothing left behind, stop only ever stopping our own proxy."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.errors import RuntimeFailure
from berth.net import proxy

BIG = 64 << 20
LOCAL = "127.0.0.1"


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def pattern(n: int) -> Iterator[bytes]:
    block = hashlib.sha256(b"berth").digest() * 32768  # 1 MiB, not all one byte
    while n > 0:
        yield block[:n]
        n -= len(block)


def recv_all(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


class TcpService:
    """The 'container': per connection, a first line 'echo' (echo until EOF, then close)
    or 'hash' (read until EOF, answer the sha256 of what came, close)."""

    def __init__(self) -> None:
        self.sock = socket.create_server((LOCAL, 0))
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn:
            mode = conn.recv(5)
            if mode == b"echo\n":
                while chunk := conn.recv(1 << 20):
                    conn.sendall(chunk)
            else:
                digest = hashlib.sha256()
                while chunk := conn.recv(1 << 20):
                    digest.update(chunk)
                conn.sendall(digest.hexdigest().encode())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def service() -> Iterator[TcpService]:
    s = TcpService()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "proxy"
    try:
        yield d
    finally:
        proxy.stop(d)


def processes_for(state_dir: Path) -> list[int]:
    """Every process whose command line names this state dir's proxy config."""
    needle = os.fsencode(os.path.abspath(state_dir / proxy.CONFIG))
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def tcp_port(host_port: int, container_port: int) -> proxy.ProxyPort:
    return proxy.ProxyPort("tcp", LOCAL, host_port, LOCAL, container_port)


def test_large_transfer_both_ways_intact(service: TcpService, state: Path) -> None:
    port = free_port()
    proxy.start(state, [tcp_port(port, service.port)])
    sent = hashlib.sha256()
    with socket.create_connection((LOCAL, port)) as c:
        c.sendall(b"echo\n")

        def upload() -> None:
            for block in pattern(BIG):
                sent.update(block)
                c.sendall(block)
            c.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=upload)
        t.start()
        got = hashlib.sha256()
        n = 0
        while chunk := c.recv(1 << 20):
            got.update(chunk)
            n += len(chunk)
        t.join()
    assert n == BIG
    assert got.hexdigest() == sent.hexdigest()


def test_half_close_passes_through(service: TcpService, state: Path) -> None:
    port = free_port()
    proxy.start(state, [tcp_port(port, service.port)])
    with socket.create_connection((LOCAL, port)) as c:
        c.sendall(b"hash\nhello")
        c.shutdown(socket.SHUT_WR)  # the service answers only after this EOF
        answer = recv_all(c)
    assert answer == hashlib.sha256(b"hello").hexdigest().encode()


def test_udp_round_trip_per_client(state: Path) -> None:
    done = threading.Event()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as svc:
        svc.bind((LOCAL, 0))
        svc.settimeout(0.1)

        def echo() -> None:
            while not done.is_set():
                try:
                    data, addr = svc.recvfrom(65535)
                except TimeoutError:
                    continue
                svc.sendto(b"re:" + data, addr)

        echoer = threading.Thread(target=echo)
        echoer.start()
        port = free_port(socket.SOCK_DGRAM)
        proxy.start(state, [proxy.ProxyPort("udp", LOCAL, port, LOCAL,
                                            svc.getsockname()[1])])
        clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        try:
            for i, c in enumerate(clients):
                c.settimeout(5)
                c.sendto(f"ping{i}".encode(), (LOCAL, port))
            replies = [c.recvfrom(65535) for c in clients]
        finally:
            for c in clients:
                c.close()
            done.set()
            echoer.join()
    assert [r[0] for r in replies] == [b"re:ping0", b"re:ping1"]
    assert all(r[1] == (LOCAL, port) for r in replies)  # answered from the published port


@pytest.mark.parametrize("kind,proto", [(socket.SOCK_STREAM, "tcp"),
                                        (socket.SOCK_DGRAM, "udp")])
def test_port_in_use_is_dockers_error_and_leaves_nothing(
        state: Path, kind: socket.SocketKind, proto: str) -> None:
    first = free_port(kind)
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("0.0.0.0", 0))
        if kind == socket.SOCK_STREAM:
            holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(RuntimeFailure) as err:
            proxy.start(state, [proxy.ProxyPort(proto, LOCAL, first, LOCAL, 1),
                                proxy.ProxyPort(proto, "0.0.0.0", taken, LOCAL, 1)])
    assert err.value.message == (f"Error starting userland proxy: listen {proto}4 "
                                 f"0.0.0.0:{taken}: bind: address already in use")
    assert processes_for(state) == []
    assert not proxy.running(state)
    assert not (state / proxy.PIDFILE).exists()
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOCAL, first))  # the port bound before the failure was let go


def test_stop_kills_it_and_is_idempotent(service: TcpService, state: Path) -> None:
    port = free_port()
    pid = proxy.start(state, [tcp_port(port, service.port)])
    assert proxy.running(state)
    assert processes_for(state) == [pid]
    assert os.getsid(pid) != os.getsid(0)  # its own session
    with open(f"/proc/{pid}/stat") as f:
        ppid = int(f.read().rpartition(")")[2].split()[1])
    assert ppid != os.getpid()  # adopted away from us: never our zombie
    proxy.stop(state)
    assert not proxy.running(state)
    assert processes_for(state) == []
    assert not any((state / n).exists() for n in (proxy.PIDFILE, proxy.CONFIG))
    proxy.stop(state)
    with socket.socket() as s:
        s.bind((LOCAL, port))


def test_stop_leaves_a_process_that_is_not_our_proxy(service: TcpService, tmp_path: Path,
                                                     state: Path) -> None:
    other = tmp_path / "other"
    try:
        other_pid = proxy.start(other, [tcp_port(free_port(), service.port)])
        stranger = subprocess.Popen(["sleep", "60"])
        try:
            state.mkdir()
            for pid in (stranger.pid, other_pid):  # a stranger, then another dir's proxy
                (state / proxy.PIDFILE).write_text(f"{pid}\n")
                assert not proxy.running(state)
                proxy.stop(state)
                assert stranger.poll() is None
                assert proxy.running(other)
        finally:
            stranger.kill()
            stranger.wait()
    finally:
        proxy.stop(other)


def test_start_replaces_a_running_proxy_of_the_same_dir(service: TcpService,
                                                        state: Path) -> None:
    first = proxy.start(state, [tcp_port(free_port(), service.port)])
    second = proxy.start(state, [tcp_port(free_port(), service.port)])
    assert processes_for(state) == [second] != [first]


def test_throughput_and_start_latency(service: TcpService, state: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Measured once and reported, not asserted (bench/ compares with docker-proxy)."""
    port = free_port()
    t0 = time.perf_counter()
    proxy.start(state, [tcp_port(port, service.port)])
    started = time.perf_counter() - t0
    size = 256 << 20

    def upload(c: socket.socket) -> float:
        t = time.perf_counter()
        c.sendall(b"hash\n")
        for block in pattern(size):
            c.sendall(block)
        c.shutdown(socket.SHUT_WR)
        recv_all(c)
        return time.perf_counter() - t

    with socket.create_connection((LOCAL, port)) as c:
        via_proxy = upload(c)
    with socket.create_connection((LOCAL, service.port)) as c:
        direct = upload(c)
    with capsys.disabled():
        print(f"\nproxy start {started * 1000:.0f} ms; {size >> 20} MiB through the proxy "
              f"{size / via_proxy / 1e6:.0f} MB/s, direct {size / direct / 1e6:.0f} MB/s")
