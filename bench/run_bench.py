#!/usr/bin/env python3
"""Container start-up benchmark: ``berth run --rm busybox true`` side by side with docker,
crun and runc, in one run, on the same busybox rootfs.

Everything runs privately under ``/tmp/berth-bench-<tag>``::

    /tmp/berth-bench-<tag>/
        berth/{data,exec}, berth.sock     berthd --cgroup-parent berth-bench-<tag>
        docker/{data,exec}, docker.sock   dockerd (+ the containerd it starts itself)
        rootfs/                           berth's busybox layer, unpacked (crun, runc)
        bundle-crun/, bundle-runc/        OCI bundles: config.json → ../rootfs
        busybox.tar                       berth's layer blob; ``docker import``-ed

Rounds are interleaved round-robin (the starting case rotates each round) so that machine
noise lands on every case alike. Cleanup runs in ``finally`` (and on Ctrl-C / SIGTERM): it
stops only the processes this script started, found by pid files or by our private path in
their command line, unmounts whatever is left under the work dir, removes the cgroups named
``berth-bench-<tag>*`` and then the work dir. Not part of the test suite: see README.md.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
DOCKER_CLIS = (Path("/usr/local/bin/docker"), Path("/usr/bin/docker"))
MNT_DETACH = 2


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run_checked(argv: Sequence[str], timeout: float = 300,
                env: dict[str, str] | None = None, stdin: Any = None) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              env=env, stdin=stdin, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BenchError(f"{' '.join(argv)}: {err}") from err
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


# --- processes, mounts, cgroups -------------------------------------------------------

def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still answers kill(0)
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line names our private work dir: only we started those."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            if marker in cmdline(int(entry.name)):
                pids.append(int(entry.name))
    return pids


def stop_pid(pid: int, what: str, marker: str, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; only if the pid still runs our command."""
    if not alive(pid) or marker not in cmdline(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        log(f"{what} (pid {pid}) ignored SIGTERM for {timeout:.0f}s: SIGKILL")
        os.kill(pid, signal.SIGKILL)


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mountinfo() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount in our namespace."""
    rows = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        rows.append((_unescape(left.split()[4]), right.split()[0]))
    return rows


def unmount_under(root: Path) -> list[str]:
    """Detach every mount at or below ``root``, deepest first; return what stays mounted."""
    libc = ctypes.CDLL(None, use_errno=True)
    prefix = str(root).rstrip("/") + "/"
    for _ in range(5):  # a lazy unmount can uncover a mount below it
        points = sorted({m for m, _ in mountinfo() if (m + "/").startswith(prefix)},
                        key=len, reverse=True)
        if not points:
            return []
        for point in points:
            if libc.umount2(point.encode(), MNT_DETACH) != 0:
                log(f"umount {point}: {os.strerror(ctypes.get_errno())}")
    return [m for m, _ in mountinfo() if (m + "/").startswith(prefix)]


def remove_cgroups(prefix: str) -> list[str]:
    """rmdir every cgroup directory named ``prefix*`` in every hierarchy, leaves first."""
    left = []
    for point, fstype in mountinfo():
        if fstype not in ("cgroup", "cgroup2"):
            continue
        for top in Path(point).glob(f"{prefix}*"):
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError as err:
                    left.append(f"{dirpath}: {err.strerror}")
    return left


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


def api(sock: Path, method: str, path: str, body: Any = None) -> Any:
    conn = UnixHTTPConnection(sock)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, data, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    if resp.status >= 400:
        raise BenchError(f"{method} {path}: {resp.status} {raw.decode(errors='replace')}")
    return json.loads(raw) if raw and raw[:1] in (b"{", b"[") else raw


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


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- the daemons ----------------------------------------------------------------------

@dataclass
class Berthd:
    work: Path
    cgroup_parent: str
    proc: subprocess.Popen[bytes] | None = None
    helpers: list[int] = field(default_factory=list)

    @property
    def sock(self) -> Path:
        return self.work / "berth.sock"

    @property
    def cli(self) -> list[str]:
        return [str(VENV_BIN / "berth"), "-H", f"unix://{self.sock}"]

    def start(self) -> None:
        data, exec_root = self.work / "berth" / "data", self.work / "berth" / "exec"
        logfile = self.work / "berthd.log"
        argv = [str(VENV_BIN / "berthd"), "--data-root", str(data), "--exec-root",
                str(exec_root), "-H", f"unix://{self.sock}", "--cgroup-parent",
                self.cgroup_parent]
        with logfile.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        proc = self.proc
        wait_for_daemon(self.sock, lambda: proc.poll() is None, logfile, 60)
        # its pre-forked helpers (the shim zygote) are ours to stop too
        self.helpers = [p for p in processes_mentioning(str(self.work / "berth"))
                        if p != proc.pid]

    def bootstrap(self) -> Path:
        run_checked([*self.cli, "image", "bootstrap", "busybox"])
        return self.layer_blob()

    def layer_blob(self) -> Path:
        """The busybox layer as berth stored it: an uncompressed tar named by its diff_id."""
        layers = api(self.sock, "GET", "/v1.45/images/busybox/json")["RootFS"]["Layers"]
        if len(layers) != 1:
            raise BenchError(f"expected one busybox layer, got {layers}")
        diff_id: str = layers[0]
        algo, _, hexdigest = diff_id.partition(":")
        blob: Path = self.work / "berth" / "data" / "content" / "blobs" / algo / hexdigest
        if not blob.is_file():
            raise BenchError(f"busybox layer blob not found at {blob}")
        return blob

    def stop(self) -> None:
        marker = str(self.work / "berth")
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                log("berthd ignored SIGTERM for 15s: SIGKILL")
                self.proc.kill()
                self.proc.wait()
        shims = [read_pid(p) for p in (self.work / "berth" / "exec").glob("containers/*/shim.pid")]
        for pid in [*self.helpers, *(p for p in shims if p)]:
            stop_pid(pid, "berth shim", marker, 5)
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

    @property
    def root(self) -> Path:
        return self.work / "docker"

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
        return {**env, "DOCKER_CONFIG": str(self.work / "docker-config")}

    def start(self) -> None:
        dockerd = ensure_dockerd()
        (self.work / "docker-config").mkdir()
        config = self.work / "daemon.json"
        config.write_text("{}\n")  # not the host's /etc/docker/daemon.json
        logfile = self.work / "dockerd.log"
        argv = [dockerd, "--config-file", str(config), "--data-root", str(self.root / "data"),
                "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "pid"),
                "-H", f"unix://{self.sock}", "--bridge=none", "--iptables=false",
                "--ip-masq=false", "--ip6tables=false", "--cgroup-parent", self.cgroup_parent]
        self.root.mkdir()
        with logfile.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        proc = self.proc
        wait_for_daemon(self.sock, lambda: proc.poll() is None, logfile, 120)

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
        return f"NetworkMode={doc['HostConfig']['NetworkMode']} Networks={nets or '-'}"

    def stop(self) -> None:
        marker = str(self.root)
        containerd = read_pid(self.root / "exec" / "containerd" / "containerd.pid")
        pid = read_pid(self.root / "pid")
        if self.proc is not None and self.proc.poll() is None:
            pid = pid or self.proc.pid
            stop_pid(pid, "dockerd", marker, 30)
            self.proc.wait()
        if containerd:
            stop_pid(containerd, "containerd", marker, 15)
        for leftover in processes_mentioning(marker):  # containerd-shim-runc-v2
            stop_pid(leftover, "docker helper", marker, 5)


# --- crun and runc --------------------------------------------------------------------

def make_bundle(bundle: Path, rootfs: Path, cgroups_path: str) -> None:
    """An OCI bundle from ``crun spec`` (root, not rootless) running ``true``."""
    bundle.mkdir()
    run_checked(["crun", "spec", "-b", str(bundle)])
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["true"]
    config["process"]["terminal"] = False
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = cgroups_path
    (bundle / "config.json").write_text(json.dumps(config, indent=2))


def crun_argv(bundle: Path, state: Path) -> tuple[Callable[[int], list[str]], str]:
    """crun 1.8 refuses a hybrid cgroup layout; try ``--cgroup-manager=disabled`` first,
    else hide the cgroup2 mount in a private mount namespace (unshare's cost included)."""
    def disabled(i: int) -> list[str]:
        return ["crun", "--cgroup-manager=disabled", "--root", str(state), "run",
                "--bundle", str(bundle), f"bench-crun-{i}"]

    def unshared(i: int) -> list[str]:
        inner = (f"umount -l /sys/fs/cgroup/unified 2>/dev/null; exec crun --root {state} "
                 f"run --bundle {bundle} bench-crun-{i}")
        return ["unshare", "-m", "sh", "-c", inner]

    for argv, how in ((disabled, "crun --cgroup-manager=disabled"),
                      (unshared, "unshare -m + umount cgroup2 + crun (unshare/sh/umount "
                                 "cost included)")):
        try:
            run_checked(argv(-1), timeout=60)
            return argv, how
        except BenchError as err:
            log(f"crun probe ({how}) failed: {err}")
    raise BenchError("crun cannot run the bundle either way")


# --- measuring ------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    label: str
    argv: Callable[[int], list[str]]
    env: dict[str, str] | None = None
    samples: list[float] = field(default_factory=list)

    def once(self, i: int) -> float:
        argv = self.argv(i)
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=self.env, timeout=60,
                              check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise BenchError(f"{self.name}: {' '.join(argv)} exited {proc.returncode}: "
                             f"{proc.stderr.decode(errors='replace').strip()}")
        return elapsed


def round_robin(cases: list[Case], runs: int, warmup: int) -> None:
    counter = 0
    for r in range(warmup + runs):
        shift = r % len(cases)
        for case in cases[shift:] + cases[:shift]:
            counter += 1
            ms = case.once(counter)
            if r >= warmup:
                case.samples.append(ms)
        if r == warmup - 1:
            log(f"warm-up done ({warmup} rounds); measuring {runs} rounds")


def stats(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p90 = (statistics.quantiles(ordered, n=10, method="inclusive")[8]
           if len(ordered) > 1 else ordered[0])
    return {"median_ms": round(statistics.median(ordered), 2), "p90_ms": round(p90, 2),
            "min_ms": round(ordered[0], 2), "max_ms": round(ordered[-1], 2),
            "mean_ms": round(statistics.fmean(ordered), 2), "n": len(ordered)}


def ratio(a: dict[str, Any], b: dict[str, Any] | None) -> float | None:
    return round(a["median_ms"] / b["median_ms"], 3) if b else None


def print_table(rows: dict[str, dict[str, Any]], labels: dict[str, str]) -> None:
    width = max(len(labels[k]) for k in rows)
    print(f"{'case':<{width}}  {'median ms':>9}  {'p90 ms':>8}  {'min ms':>8}  {'n':>3}")
    for key, s in rows.items():
        print(f"{labels[key]:<{width}}  {s['median_ms']:>9.1f}  {s['p90_ms']:>8.1f}  "
              f"{s['min_ms']:>8.1f}  {s['n']:>3}")


# --- --profile: where berth's time goes -----------------------------------------------

def api_sequence(sock: Path, prefix: str) -> dict[str, float]:
    """One ``run --rm busybox true`` the way the docker CLI drives it, timed per call:
    create → attach (hijack) → wait?condition=removed (headers) → start → output EOF →
    wait's body (the container is removed)."""
    t: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        t[name] = (now - mark) * 1000
        mark = now

    begin = mark
    body = {"Image": "busybox", "Cmd": ["true"], "AttachStdout": True, "AttachStderr": True,
            "HostConfig": {"AutoRemove": True}}
    cid = api(sock, "POST", f"{prefix}/containers/create", body)["Id"]
    lap("create")
    attach = UnixHTTPConnection(sock)
    attach.request("POST", f"{prefix}/containers/{cid}/attach?stream=1&stdout=1&stderr=1",
                   headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    stream = attach.getresponse()
    if stream.status not in (101, 200):
        raise BenchError(f"attach: {stream.status} {stream.read()!r}")
    lap("attach")
    waiter = UnixHTTPConnection(sock)
    waiter.request("POST", f"{prefix}/containers/{cid}/wait?condition=removed")
    waited = waiter.getresponse()  # headers come once the wait is registered
    if waited.status != 200:
        raise BenchError(f"wait: {waited.status} {waited.read()!r}")
    lap("wait_registered")
    api(sock, "POST", f"{prefix}/containers/{cid}/start")
    lap("start")
    reader = stream.fp if stream.status == 101 else stream
    assert reader is not None
    while reader.read(65536):
        pass
    lap("run_until_output_eof")
    result = json.loads(waited.read())
    lap("exit_and_remove")
    attach.close()
    waiter.close()
    if result.get("StatusCode") != 0:
        raise BenchError(f"container exited {result}")
    t["total"] = (time.perf_counter() - begin) * 1000
    return t


def profile(berthd: Berthd, dockerd: Dockerd | None, runs: int, warmup: int,
            python: Path) -> dict[str, Any]:
    cases = [Case("python_startup", "python -c pass (interpreter floor)",
                  lambda i: [str(python), "-c", "pass"]),
             Case("berth_import", "python -c 'import berth.cli.main'",
                  lambda i: [str(python), "-c", "import berth.cli.main"]),
             Case("berth_version", "berth version (CLI start-up + GET /version)",
                  lambda i: [*berthd.cli, "version"]),
             Case("berth_run", "berth run --rm busybox true",
                  lambda i: [*berthd.cli, "run", "--rm", "busybox", "true"])]
    if dockerd is not None:
        cases.append(Case("docker_version", "docker version",
                          lambda i: [*dockerd.cli, "version"], env=dockerd.env))
    round_robin(cases, runs, warmup)
    out: dict[str, Any] = {"cli": {c.name: {"label": c.label, **stats(c.samples)}
                                   for c in cases}}
    targets = [("berth", berthd.sock, "/v1.45")]
    if dockerd is not None:
        targets.append(("docker", dockerd.sock, f"/v{dockerd.version()['ApiVersion']}"))
    laps: dict[str, dict[str, list[float]]] = {name: {} for name, _, _ in targets}
    for r in range(warmup + runs):
        for name, sock, prefix in targets:
            one = api_sequence(sock, prefix)
            if r >= warmup:
                for key, ms in one.items():
                    laps[name].setdefault(key, []).append(ms)
    out["api"] = {name: {k: stats(v) for k, v in steps.items()} for name, steps in laps.items()}
    return out


def print_profile(prof: dict[str, Any]) -> None:
    print("\nCLI start-up (same daemon, same rounds):")
    print_table({k: v for k, v in prof["cli"].items()},
                {k: v["label"] for k, v in prof["cli"].items()})
    print("\nDaemon side, per HTTP call (http.client over the unix socket, docker CLI order):")
    names = list(prof["api"])
    steps = list(prof["api"][names[0]])
    print(f"{'step':<22}" + "".join(f"  {n + ' med':>11}  {n + ' p90':>11}" for n in names))
    for step in steps:
        print(f"{step:<22}" + "".join(
            f"  {prof['api'][n][step]['median_ms']:>11.1f}  {prof['api'][n][step]['p90_ms']:>11.1f}"
            for n in names))
    cli = prof["cli"]
    overhead = cli["berth_run"]["median_ms"] - prof["api"]["berth"]["total"]["median_ms"]
    print(f"\nberth run median minus API total median = {overhead:.1f} ms "
          f"(CLI start-up, imports and argument handling; python floor "
          f"{cli['python_startup']['median_ms']:.1f} ms)")


# --- main -----------------------------------------------------------------------------

@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cleanup(work: Path, tag: str, stoppers: list[Callable[[], None]]) -> None:
    # the cleanup itself must not be cut short by a second Ctrl-C
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for stop in reversed(stoppers):
            try:
                stop()
            except (OSError, BenchError, subprocess.SubprocessError) as err:
                log(f"cleanup: {err}")
        for pid in processes_mentioning(str(work)):
            stop_pid(pid, "leftover", str(work), 5)
        still = unmount_under(work)
        for problem in remove_cgroups(f"berth-bench-{tag}"):
            log(f"cleanup: cgroup left: {problem}")
        if still:
            log(f"cleanup: still mounted, NOT removing {work}: {still}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            if work.exists():
                log(f"cleanup: could not remove all of {work}")
    finally:
        signal.signal(signal.SIGINT, previous)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=30, help="measured rounds (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up rounds (default 3)")
    p.add_argument("--json", type=Path, help="also write the results to this file")
    p.add_argument("--profile", action="store_true",
                   help="break berth's time down (CLI start-up, per-API-call) instead")
    p.add_argument("--skip-docker", action="store_true", help="no dockerd (faster)")
    args = p.parse_args(argv)
    if args.runs < 2 or args.warmup < 0:
        p.error("--runs must be at least 2 and --warmup at least 0")
    return args


def setup(work: Path, tag: str, args: argparse.Namespace,
          stoppers: list[Callable[[], None]]) -> tuple[Berthd, Dockerd | None, Path]:
    berthd = Berthd(work, f"berth-bench-{tag}")
    stoppers.append(berthd.stop)
    log(f"starting berthd in {work}")
    berthd.start()
    layer = berthd.bootstrap()
    tar = work / "busybox.tar"
    shutil.copyfile(layer, tar)
    dockerd = None
    if not args.skip_docker:
        dockerd = Dockerd(work, f"berth-bench-{tag}-docker", newest_docker_cli())
        stoppers.append(dockerd.stop)
        log(f"starting dockerd (CLI {dockerd.cli_path})")
        dockerd.start()
        dockerd.import_image(tar)
    return berthd, dockerd, tar


def benchmark(work: Path, tag: str, args: argparse.Namespace, berthd: Berthd,
              dockerd: Dockerd | None, tar: Path) -> dict[str, Any]:
    notes: list[str] = []
    rootfs = work / "rootfs"
    rootfs.mkdir()
    run_checked(["tar", "-xf", str(tar), "-C", str(rootfs)])
    cases = [Case("berth", "berth run --rm busybox true",
                  lambda i: [*berthd.cli, "run", "--rm", "busybox", "true"])]
    if dockerd is not None:
        dcli, denv = dockerd.cli, dockerd.env
        cases += [Case("docker", "docker run --rm busybox true (default network)",
                       lambda i: [*dcli, "run", "--rm", "busybox", "true"], denv),
                  Case("docker_none", "docker run --rm --network none busybox true",
                       lambda i: [*dcli, "run", "--rm", "--network", "none", "busybox",
                                  "true"], denv)]
        notes.append(f"docker default network resolves to: {dockerd.default_network()}")
    make_bundle(work / "bundle-crun", rootfs, f"/berth-bench-{tag}/crun")
    crun, how = crun_argv(work / "bundle-crun", work / "crun-state")
    notes.append(f"crun runs as: {how}")
    cases.append(Case("crun", "crun run (OCI bundle, read-only rootfs)", crun))
    make_bundle(work / "bundle-runc", rootfs, f"/berth-bench-{tag}/runc")
    runc_state, runc_bundle = str(work / "runc-state"), str(work / "bundle-runc")
    cases.append(Case("runc", "runc run (OCI bundle, read-only rootfs)",
                      lambda i: ["runc", "--root", runc_state, "run", "--bundle", runc_bundle,
                                 f"bench-runc-{i}"]))
    log(f"cases: {', '.join(c.name for c in cases)}; {args.warmup} warm-up + {args.runs} "
        f"rounds, round-robin")
    round_robin(cases, args.runs, args.warmup)
    rows = {c.name: stats(c.samples) for c in cases}
    labels = {c.name: c.label for c in cases}
    b = rows["berth"]
    ratios = {f"berth/{k}": ratio(b, rows[k]) for k in rows if k != "berth"}
    print()
    print_table(rows, labels)
    print()
    for key, value in ratios.items():
        print(f"{key:<20} {value:.2f}x (median)")
    if "docker" in rows:
        verdict = "PASS" if ratios["berth/docker"] is not None and \
            ratios["berth/docker"] <= 0.5 else "FAIL"
        print(f"target berth median <= 0.5x docker's: {verdict}")
    for note in notes:
        print(f"note: {note}")
    return {"cases": {c.name: {"label": c.label, "argv": c.argv(0), **rows[c.name],
                               "samples_ms": [round(s, 3) for s in c.samples]}
                      for c in cases},
            "ratios_of_medians": ratios, "notes": notes}


def versions(dockerd: Dockerd | None) -> dict[str, str]:
    found = {"berth": run_checked([str(VENV_BIN / "berth"), "--version"]).strip(),
             "crun": run_checked(["crun", "--version"]).splitlines()[0],
             "runc": run_checked(["runc", "--version"]).splitlines()[0],
             "kernel": platform.release(), "cpus": str(os.cpu_count())}
    if dockerd is not None:
        doc = dockerd.version()
        found["dockerd"] = f"{doc['Version']} (API {doc['ApiVersion']})"
        cli = ".".join(map(str, cli_version(dockerd.cli_path)))
        found["docker_cli"] = f"{dockerd.cli_path} {cli}"
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("run_bench.py needs root (daemons, mounts, cgroups)", file=sys.stderr)
        return 2
    tag = secrets.token_hex(4)
    work = Path(f"/tmp/berth-bench-{tag}")
    work.mkdir(mode=0o700)
    stoppers: list[Callable[[], None]] = []
    result: dict[str, Any] = {"runs": args.runs, "warmup": args.warmup,
                              "mode": "profile" if args.profile else "compare"}
    try:
        with ExitStack() as stack:
            stack.enter_context(sigterm_as_interrupt())
            berthd, dockerd, tar = setup(work, tag, args, stoppers)
            result["versions"] = versions(dockerd)
            if args.profile:
                result["profile"] = profile(berthd, dockerd, args.runs, args.warmup,
                                            VENV_BIN / "python")
                print_profile(result["profile"])
            else:
                result.update(benchmark(work, tag, args, berthd, dockerd, tar))
    except (BenchError, subprocess.TimeoutExpired) as err:
        print(f"run_bench: {err}", file=sys.stderr)
        for name in ("berthd.log", "dockerd.log"):
            if (work / name).exists():
                print(f"--- last lines of {name}:\n{tail(work / name, 30)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("run_bench: interrupted, cleaning up", file=sys.stderr)
        return 130
    finally:
        log("cleaning up")
        cleanup(work, tag, stoppers)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
