"""Start and stop a private berthd for tests: its own data root, exec root, socket and
cgroup parent under a temp dir, so it cannot clash with a real Docker or Berth on the host.

Teardown removes everything the daemon made, even after a failed test: containers (via the
API), shims it started (by the pids in its own exec root), cgroups under its parent, and the
temp dir.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.runtime.sockets import socket_path
from tests.compat import netstate
from tests.integration.conftest import unmount_all_under

VENV_BIN = Path(sys.executable).parent
BERTH = str(VENV_BIN / "berth")
BERTHD = str(VENV_BIN / "berthd")
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass
class Daemon:
    root: Path
    cgroup_parent: str = field(default_factory=lambda: f"berth-test-{secrets.token_hex(4)}")
    proc: subprocess.Popen[bytes] | None = None
    # Its own default bridge and iptables chains, so test daemons and a real dockerd or
    # berthd coexist (netstate.py removes them at cleanup); more daemon.toml keys in
    # ``settings`` (e.g. userland_proxy = True).
    bridge: str = field(default_factory=lambda: f"bt{secrets.token_hex(3)}")
    chain_prefix: str = field(default_factory=lambda: f"BT{secrets.token_hex(3).upper()}")
    settings: dict[str, object] = field(default_factory=dict)
    networks_seen: set[str] = field(default_factory=set)  # bridges of its user networks

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def exec_root(self) -> Path:
        return self.root / "x"

    @property
    def socket(self) -> Path:
        return self.exec_root / "berth.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "BERTH_HOST": self.host, "DOCKER_HOST": self.host}

    def config_file(self, extra: tuple[str, ...]) -> tuple[str, ...]:
        """``extra`` with a ``--config-file`` of this daemon's network keys and settings
        ahead of the keys of the caller's own ``--config-file``, if it gave one."""
        args = list(extra)
        theirs = ""
        if "--config-file" in args:
            at = args.index("--config-file")
            theirs = Path(args[at + 1]).read_text()
            del args[at:at + 2]
        keys = {"bridge": self.bridge, "iptables_chain_prefix": self.chain_prefix,
                **self.settings}
        path = self.root / "daemon.toml"
        path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items()) + theirs)
        return ("--config-file", str(path), *args)

    def start(self, *extra: str) -> None:
        log = open(self.root / "berthd.log", "ab")
        self.proc = subprocess.Popen(
            [BERTHD, "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
             "-H", self.host, "--cgroup-parent", self.cgroup_parent,
             *self.config_file(extra)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.socket.exists():
                if self.berth("version", check=False).returncode == 0:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"berthd did not start:\n{self.log()}")

    def log(self) -> str:
        return (self.root / "berthd.log").read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def berth(self, *args: str, check: bool = True, input: str | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return _run([BERTH, "-H", self.host, *args], check, timeout, input, dict(os.environ))

    def docker(self, *args: str, check: bool = True, input: str | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_CONFIG": str(self.root / "dockercfg")}
        return _run(["docker", "-H", self.host, *args], check, timeout, input, env)

    def mounts(self) -> list[str]:
        """The host's mount points under this daemon's root, but for the netns
        directory's bind onto itself, which lives as long as the daemon's exec root, and
        lxcfs's mount (the /proc view), which lives as long as the daemon."""
        own = (str(self.exec_root / "netns"), str(self.exec_root / "lxcfs"))
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        return [p for p in points if p.startswith(f"{self.root}/") and p not in own]

    def user_bridges(self) -> set[str]:
        """The bridge devices of this daemon's user networks (remembered, so cleanup
        finds them after the daemon is gone)."""
        out = self.docker("network", "ls", "-q", "--no-trunc", check=False, timeout=20)
        self.networks_seen |= {f"br-{n[:12]}" for n in out.stdout.split()}
        return self.networks_seen

    def cleanup(self) -> None:
        """Remove every container and network, stop the daemon, kill leftover shims and
        helpers, drop cgroups, the bridges, veths, netns binds and iptables chains."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                ids = self.berth("ps", "-aq", timeout=20).stdout.split()
                if ids:
                    self.berth("rm", "-f", *ids, check=False, timeout=60)
                self.user_bridges()
                self.docker("network", "prune", "-f", check=False, timeout=60)
        self.stop()
        for pid in netstate.processes_mentioning(f"{self.root}/"):  # userland proxies
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pidfile in self.exec_root.glob("containers/*/shim.pid"):
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
            for name in ("shim.sock", "attach.sock"):  # outside the root: see sockets.py
                socket_path(pidfile.parent, name).unlink(missing_ok=True)
        socket_path(self.exec_root, "zygote.sock").unlink(missing_ok=True)  # a killed berthd's
        remove_cgroups(self.cgroup_parent)
        netstate.remove_leftovers(self.chain_prefix, {self.bridge, *self.networks_seen},
                                  self.exec_root / "netns")
        # a local volume made with -o type=none,o=bind still mounted (a killed daemon)
        # would have rmtree delete the files of the host directory it binds
        unmount_all_under(str(self.root))
        shutil.rmtree(self.root, ignore_errors=True)


def _run(argv: list[str], check: bool, timeout: float, input: str | None,
         env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                          env=env, stdin=subprocess.DEVNULL if input is None else None)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv[2:]} exited {done.returncode}\nstdout: {done.stdout}\n"
                             f"stderr: {done.stderr}")
    return done


def remove_cgroups(parent: str) -> None:
    """rmdir the cgroup tree ``parent`` in every hierarchy, deepest first, killing what is
    left inside (only our containers can be in our own cgroup parent)."""
    for top in [CGROUP_ROOT, *CGROUP_ROOT.iterdir()] if CGROUP_ROOT.exists() else []:
        base = top / parent
        if not base.is_dir():
            continue
        for d in [*sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True), base]:
            if not d.is_dir():
                continue
            procs = d / "cgroup.procs"
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def inspect(d: Daemon, ref: str) -> dict[str, object]:
    out = d.berth("inspect", ref).stdout
    data = json.loads(out)
    assert isinstance(data, list)
    return data[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def registry_server(root: Path, *extra: str) -> Iterator[str]:
    """A ``berth registry serve`` on a free loopback port (``extra``: more flags, e.g.
    ``--htpasswd FILE``), stopped afterwards; yields ``host:port`` once /v2/ answers."""
    port = free_port()
    server = subprocess.Popen([BERTH, "registry", "serve", "--addr", f"127.0.0.1:{port}",
                               "--root", str(root), *extra], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # answering, if only with 401
            except OSError:
                assert time.monotonic() < deadline, "berth registry serve never answered"
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


class UnixConnection(http.client.HTTPConnection):
    """http.client over berthd's unix socket, for raw API calls in tests."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def raw_request(daemon: Daemon, method: str, path: str, body: Any = None,
                raw: bytes | None = None) -> tuple[int, str, bytes]:
    """One request: status, content type, body."""
    conn = UnixConnection(str(daemon.socket))
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        conn.request(method, path, data, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()
