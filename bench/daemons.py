"""The two daemons under test, started privately: berthd and dockerd (with the containerd
it starts itself), and the Engine API over their unix sockets."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host import (
    BenchError,
    log,
    processes_mentioning,
    read_pid,
    run_checked,
    stop_pid,
    tail,
)
from hostnet import HostNet, check_no_docker, free_subnet

from berth.runtime.sockets import socket_path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
DOCKER_CLIS = (Path("/usr/local/bin/docker"), Path("/usr/bin/docker"))
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with its NUL


# --- the Engine API over a unix socket ------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float = 120) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


def api(sock: Path, method: str, path: str, body: Any = None,
        headers: dict[str, str] | None = None, timeout: float = 120, raw: bool = False) -> Any:
    """One Engine API call: its JSON document, or its body as bytes when that is not one
    (or when ``raw``: a stream of JSON lines)."""
    conn = UnixHTTPConnection(sock, timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        body_bytes = resp.read()
    finally:
        conn.close()
    if resp.status >= 400:
        raise BenchError(f"{method} {path}: {resp.status} "
                         f"{body_bytes.decode(errors='replace')}")
    if raw or body_bytes[:1] not in (b"{", b"["):
        return body_bytes
    return json.loads(body_bytes)


def wait_for_daemon(sock: Path, pid_ok: Callable[[], bool], logfile: Path,
                    timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_ok():
            raise BenchError(f"daemon exited during start-up; log:\n{tail(logfile)}")
        try:
            api(sock, "GET", "/_ping")
            return
        except (OSError, BenchError, http.client.HTTPException):
            time.sleep(0.1)
    raise BenchError(f"daemon not answering on {sock} after {timeout:.0f}s; log:\n"
                     f"{tail(logfile)}")


# --- the daemons ----------------------------------------------------------------------

@dataclass
class Berthd:
    work: Path
    cgroup_parent: str
    extra: list[str] = field(default_factory=list)  # more berthd flags (-H tcp://…, TLS)
    proc: subprocess.Popen[bytes] | None = None
    helpers: list[int] = field(default_factory=list)
    # daemon.toml keys (bridge, iptables_chain_prefix, userland_proxy, ...); none: none
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The prefix of berth's data (bd) and exec (be) roots."""
        return self.work / "b"

    @property
    def sock(self) -> Path:
        return self.work / "berth.sock"

    @property
    def cli(self) -> list[str]:
        return [str(VENV_BIN / "berth"), "-H", f"unix://{self.sock}"]

    @property
    def env(self) -> dict[str, str]:
        """As installed: bytecode cached (in our work dir, not under src/)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "BERTH_HOST")}
        return {**env, "PYTHONPYCACHEPREFIX": str(self.work / "pycache")}

    @property
    def env_nopyc(self) -> dict[str, str]:
        """As this environment runs it: no bytecode written or read, compile every time."""
        env = {k: v for k, v in self.env.items() if k != "PYTHONPYCACHEPREFIX"}
        return {**env, "PYTHONDONTWRITEBYTECODE": "1"}

    def start(self) -> None:
        data, exec_root = self.work / "bd", self.work / "be"
        longest = len(str(exec_root / "containers" / ("0" * 64) / "attach.sock"))
        if longest > MAX_SOCKET_PATH:
            raise BenchError(f"{exec_root} is too long for berth's shim sockets ({longest} "
                             f"> {MAX_SOCKET_PATH} bytes)")
        logfile = self.work / "berthd.log"
        argv = [str(VENV_BIN / "berthd"), "--data-root", str(data), "--exec-root",
                str(exec_root), "-H", f"unix://{self.sock}", "--cgroup-parent",
                self.cgroup_parent, *self.extra]
        if self.settings:
            toml = self.work / "berthd.toml"
            toml.write_text("".join(f"{k} = {json.dumps(v)}\n"
                                    for k, v in self.settings.items()))
            argv += ["--config-file", str(toml)]
        with logfile.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env=self.env)
        proc = self.proc
        wait_for_daemon(self.sock, lambda: proc.poll() is None, logfile, 60)
        # its pre-forked helpers (the shim zygote) are ours to stop too
        self.helpers = [p for p in processes_mentioning(str(self.root))
                        if p != proc.pid]

    def bootstrap(self) -> Path:
        run_checked([*self.cli, "image", "bootstrap", "busybox"], env=self.env)
        return self.layer_blob()

    def layer_blob(self) -> Path:
        """The busybox layer as berth stored it: an uncompressed tar named by its diff_id."""
        layers = api(self.sock, "GET", "/v1.45/images/busybox/json")["RootFS"]["Layers"]
        if len(layers) != 1:
            raise BenchError(f"expected one busybox layer, got {layers}")
        diff_id: str = layers[0]
        algo, _, hexdigest = diff_id.partition(":")
        blob: Path = self.work / "bd" / "content" / "blobs" / algo / hexdigest
        if not blob.is_file():
            raise BenchError(f"busybox layer blob not found at {blob}")
        return blob

    def stop(self) -> None:
        marker = str(self.root)
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(BenchError):  # containers first, by the book
                ids = run_checked([*self.cli, "ps", "-aq"], env=self.env, timeout=30).split()
                if ids:
                    run_checked([*self.cli, "rm", "-f", *ids], env=self.env, timeout=120)
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                log("berthd ignored SIGTERM for 15s: SIGKILL")
                self.proc.kill()
                self.proc.wait()
        # shims are forks of the zygote: their command line names its socket, not the root
        zygote = str(socket_path(self.work / "be", "zygote.sock"))
        shims = [read_pid(p) for p in (self.work / "be").glob("containers/*/shim.pid")]
        for pid in [*self.helpers, *(p for p in shims if p), *processes_mentioning(zygote)]:
            stop_pid(pid, "berth shim", zygote, 5)
        for pid in processes_mentioning(marker):
            stop_pid(pid, "berth helper", marker, 5)


def cli_version(path: Path) -> tuple[int, ...]:
    try:
        out = run_checked([str(path), "--version"], timeout=30)
    except BenchError:
        return ()
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in found.groups()) if found else ()


def newest_docker_cli() -> Path:
    found = [(cli_version(p), p) for p in DOCKER_CLIS if p.is_file()]
    found = [(v, p) for v, p in found if v]
    if not found:
        raise BenchError("no docker CLI found at " + ", ".join(map(str, DOCKER_CLIS)))
    return max(found, key=lambda vp: vp[0])[1]  # a tie keeps /usr/local/bin, listed first


def ensure_dockerd() -> str:
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd"
                                          if Path("/usr/sbin/dockerd").exists() else None)
    if dockerd:
        return dockerd
    log("dockerd missing: apt-get install -y docker.io")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_checked(["apt-get", "update"], timeout=600, env=env)
    run_checked(["apt-get", "install", "-y", "docker.io"], timeout=1200, env=env)
    if not Path("/usr/sbin/dockerd").exists():
        raise BenchError("apt-get install docker.io did not provide /usr/sbin/dockerd")
    return "/usr/sbin/dockerd"


@dataclass
class Dockerd:
    work: Path
    cgroup_parent: str
    cli_path: Path
    proc: subprocess.Popen[bytes] | None = None
    # "": no networking (--bridge=none, no iptables); else the name of an existing bridge
    # (hostnet.HostNet.bridge) for its default network, with iptables and masquerade on
    bridge: str = ""
    userland_proxy: bool = True  # dockerd's default

    @property
    def root(self) -> Path:
        """The prefix of dockerd's data (dd) and exec (de) roots."""
        return self.work / "d"

    @property
    def sock(self) -> Path:
        return self.work / "docker.sock"

    @property
    def cli(self) -> list[str]:
        return [str(self.cli_path), "-H", f"unix://{self.sock}"]

    @property
    def env(self) -> dict[str, str]:
        """A private, empty CLI config: no contexts, plugins or credential helpers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return {**env, "DOCKER_CONFIG": str(self.work / "cli-config")}

    def start(self) -> None:
        dockerd = ensure_dockerd()
        (self.work / "cli-config").mkdir(exist_ok=True)
        config = self.work / "dockerd.json"
        config.write_text("{}\n")  # not the host's /etc/docker/daemon.json
        logfile = self.work / "dockerd.log"
        argv = [dockerd, "--config-file", str(config), "--data-root", str(self.work / "dd"),
                "--exec-root", str(self.work / "de"), "--pidfile", str(self.work / "dockerd.pid"),
                "-H", f"unix://{self.sock}", *self.network_flags(), "--ip6tables=false",
                "--cgroup-parent", self.cgroup_parent]
        with logfile.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        proc = self.proc
        wait_for_daemon(self.sock, lambda: proc.poll() is None, logfile, 120)

    def network_flags(self) -> list[str]:
        if not self.bridge:
            return ["--bridge=none", "--iptables=false", "--ip-masq=false"]
        return [f"--bridge={self.bridge}", "--iptables=true", "--ip-masq=true",
                f"--userland-proxy={'true' if self.userland_proxy else 'false'}",
                "--userland-proxy-path=/usr/sbin/docker-proxy"]

    def import_image(self, tar: Path) -> None:
        with tar.open("rb") as f:
            run_checked([*self.cli, "import", "-", "busybox:latest"], env=self.env, stdin=f)

    def version(self) -> dict[str, Any]:
        doc: dict[str, Any] = api(self.sock, "GET", "/version")
        return doc

    def default_network(self) -> str:
        """What a container created without --network gets on this daemon."""
        cid = api(self.sock, "POST", "/containers/create",
                  {"Image": "busybox", "Cmd": ["true"]})["Id"]
        try:
            doc = api(self.sock, "GET", f"/containers/{cid}/json")
        finally:
            api(self.sock, "DELETE", f"/containers/{cid}?force=1")
        nets = ",".join(sorted((doc["NetworkSettings"].get("Networks") or {}).keys()))
        known = ", ".join(f"{n['Name']}({n['Driver']})" for n in api(self.sock, "GET", "/networks"))
        return (f"NetworkMode={doc['HostConfig']['NetworkMode']} Networks={nets or '-'}; "
                f"daemon networks: {known}")

    def stop(self) -> None:
        marker = str(self.root)
        containerd = read_pid(self.work / "de" / "containerd" / "containerd.pid")
        pid = read_pid(self.work / "dockerd.pid")
        if self.proc is not None and self.proc.poll() is None:
            pid = pid or self.proc.pid
            stop_pid(pid, "dockerd", marker, 30)
            self.proc.wait()
        if containerd:
            stop_pid(containerd, "containerd", marker, 15)
        for leftover in processes_mentioning(marker):  # containerd-shim-runc-v2
            stop_pid(leftover, "docker helper", marker, 5)


def start_daemons(work: Path, tag: str, stoppers: list[Callable[[], None]], docker: bool,
                  busybox: bool = True, networking: bool = False,
                  berth_settings: dict[str, object] | None = None,
                  ) -> tuple[Berthd, Dockerd | None, Path | None]:
    """berthd, and dockerd unless ``docker`` is False, both stopped by ``stoppers``; with
    ``busybox``, berth's busybox layer (``layer.tar``) is the busybox image on both.
    With ``networking``, each gets a default bridge of its own (``bb<tag>``/``bd<tag>``)
    and iptables (berth's chains prefixed ``BB<tag>``), removed again by ``stoppers``.
    ``berth_settings``: more daemon.toml keys for berthd."""
    berthd = Berthd(work, f"berth-bench-{tag}")
    bridge = ""
    if networking:
        net = HostNet()
        net.snapshot()
        stoppers.append(net.restore)  # runs last: after both daemons stopped
        berthd.settings = {"bridge": f"bb{tag}", "iptables_chain_prefix": f"BB{tag.upper()}"}
        net.forget_bridge(f"bb{tag}")
        if docker:
            check_no_docker()
            bridge = f"bd{tag}"
            net.bridge(bridge, free_subnet())
    berthd.settings.update(berth_settings or {})
    stoppers.append(berthd.stop)
    log(f"starting berthd in {work}")
    berthd.start()
    tar = None
    if busybox:
        tar = work / "layer.tar"
        shutil.copyfile(berthd.bootstrap(), tar)
    dockerd = None
    if docker:
        dockerd = Dockerd(work, f"berth-bench-{tag}-docker", newest_docker_cli(),
                          bridge=bridge)
        stoppers.append(dockerd.stop)
        log(f"starting dockerd (CLI {dockerd.cli_path})")
        dockerd.start()
        if tar is not None:
            dockerd.import_image(tar)
    return berthd, dockerd, tar
