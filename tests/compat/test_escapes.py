"""Escape and abuse attempts from inside default containers (issue 13), through the docker
CLI 28 against berthd, under the native runtime, runc and crun. Each attempt must fail for
the right reason (the errno the control in its way gives), and the same attempt with the
control lifted (``--privileged``, the one ``--cap-add``, ``--pid host``, a writable bind,
no limit) must get past it, so the test cannot pass for another reason.

The attempts are made by ``data/escape.c``, built static here and bound read-only at /e:
one line per attempt, ``OK ...`` or ``ERR <errno name>``. Targets are harmless: a tmpfs,
a junk buffer as a kernel module, a sysctl of the container's own network namespace, a
read-only loop device over a temp file, the kernel's timezone set to the one it has, a
``sleep`` the test started on the host."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon

RUNTIMES = ["native", "runc", "crun"]
SOURCE = Path(__file__).parent / "data" / "escape.c"
ALL_CAPS = "1ffffffffff"  # CapEff of root in a new user namespace on this kernel (0..40)


@pytest.fixture(scope="module")
def escape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The helper, built static (it runs in busybox, which has no libc)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed (apt-get install gcc libc6-dev)")
    out = tmp_path_factory.mktemp("escape") / "escape"
    done = subprocess.run([gcc, "-static", "-O2", "-o", str(out), str(SOURCE)],
                          capture_output=True, text=True)
    if done.returncode != 0 and "cannot find -lc" in done.stderr:
        pytest.skip("no static libc (apt-get install libc6-dev)")
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def names(daemon: Daemon) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    if made:
        daemon.docker("rm", "-f", *made, check=False)


@pytest.fixture
def host_sleep() -> Iterator[int]:
    """A process on the host, outside every container: the target of the pid attempts."""
    proc = subprocess.Popen(["sleep", "300"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    """A read-only loop device over a temp file starting with a marker line: (path, major,
    minor); detached afterwards."""
    if shutil.which("losetup") is None:
        pytest.skip("losetup is not installed")
    image = tmp_path / "disk.img"
    image.write_bytes(b"berth-escape-marker\n".ljust(1 << 20, b"\0"))
    done = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"no loop device: {done.stderr.strip()}")
    dev = done.stdout.strip()
    try:
        rdev = os.stat(dev).st_rdev
        yield dev, os.major(rdev), os.minor(rdev)
    finally:
        subprocess.run(["losetup", "--detach", dev], check=False)


def attempt(daemon: Daemon, runtime: str, escape: Path, *args: str,
            opts: tuple[str, ...] = ()) -> list[str]:
    """Run ``escape ARGS`` (or, when the first arg is ``sh``, a shell script calling /e) in
    a new container; its output lines."""
    cmd = ["sh", "-c", args[1]] if args[0] == "sh" else ["/e", *args]
    done = daemon.docker("run", "--rm", "--runtime", runtime, "-v", f"{escape}:/e:ro",
                         *opts, "busybox", *cmd, check=False)
    assert done.returncode in (0, 1), f"{args}: exit {done.returncode}: {done.stderr}"
    return done.stdout.splitlines()


def one(daemon: Daemon, runtime: str, escape: Path, *args: str,
        opts: tuple[str, ...] = ()) -> str:
    lines = attempt(daemon, runtime, escape, *args, opts=opts)
    assert len(lines) == 1, lines
    return lines[0]


# ── mount, kernel modules, /proc/sys ──────────────────────────────────────────────────


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mount_a_filesystem(daemon: Daemon, escape: Path, runtime: str) -> None:
    """mount(2) needs CAP_SYS_ADMIN (and docker's profile allows it only with it)."""
    assert one(daemon, runtime, escape, "mount", "/tmp") == "ERR EPERM"
    assert one(daemon, runtime, escape, "mount", "/tmp", opts=("--privileged",)) == "OK"
    assert one(daemon, runtime, escape, "mount", "/tmp", opts=("--cap-add", "SYS_ADMIN")) == "OK"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_load_a_kernel_module(daemon: Daemon, escape: Path, runtime: str) -> None:
    """init_module(2) of a junk buffer: refused by the filter and CAP_SYS_MODULE by default;
    with the capability the call reaches the module loader, which refuses the junk (or is
    not built into this kernel: ENOSYS). No module is ever loaded."""
    assert one(daemon, runtime, escape, "module") == "ERR EPERM"
    for opts in (("--privileged",), ("--cap-add", "SYS_MODULE")):
        past = one(daemon, runtime, escape, "module", opts=opts)
        assert past in ("ERR ENOSYS", "ERR ENOEXEC", "ERR EINVAL", "ERR EFAULT"), (opts, past)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_write_proc_sys(daemon: Daemon, escape: Path, runtime: str) -> None:
    """/proc/sys is a read-only bind; a privileged container's is writable. The control
    writes a sysctl of the container's own network namespace, never the host's."""
    ttl = "/proc/sys/net/ipv4/ip_default_ttl"
    host_ttl = Path(ttl).read_text()
    for path, value in ((ttl, "63"), ("/proc/sys/kernel/hostname", "escaped"),
                        ("/proc/sys/kernel/core_pattern", "|/tmp/x")):
        assert one(daemon, runtime, escape, "write", path, value) == "ERR EROFS", path
    out = attempt(daemon, runtime, escape, "sh", f"/e write {ttl} 63; cat {ttl}",
                  opts=("--privileged",))
    assert out == ["OK", "63"]
    assert Path(ttl).read_text() == host_ttl, "the host's own sysctl is untouched"


# ── host pids, ptrace ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_reach_host_pids(daemon: Daemon, escape: Path, runtime: str, host_sleep: int) -> None:
    script = f"/e kill0 {host_sleep}; /e read /proc/{host_sleep}/cmdline"
    assert attempt(daemon, runtime, escape, "sh", script) == ["ERR ESRCH", "ERR ENOENT"]
    assert attempt(daemon, runtime, escape, "sh", script, opts=("--pid", "host")) == [
        "OK", "OK sleep"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ptrace_outside(daemon: Daemon, escape: Path, runtime: str, host_sleep: int) -> None:
    """The pid namespace hides the host's process; with the host's pids visible,
    ptrace_may_access refuses a target with capabilities beyond the tracer's unless it has
    CAP_SYS_PTRACE."""
    pid = str(host_sleep)
    assert one(daemon, runtime, escape, "ptrace", pid) == "ERR ESRCH"
    assert one(daemon, runtime, escape, "ptrace", pid, opts=("--pid", "host")) == "ERR EPERM"
    assert one(daemon, runtime, escape, "ptrace", pid,
               opts=("--pid", "host", "--cap-add", "SYS_PTRACE")) == "OK"
    with open(f"/proc/{pid}/status") as f:
        state = next(line for line in f if line.startswith("State:"))
    assert "S (sleeping)" in state, "attached and detached again"


# ── devices, time, user namespaces ────────────────────────────────────────────────────


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_open_a_host_block_device(daemon: Daemon, escape: Path, runtime: str,
                                  loop_device: tuple[str, int, int]) -> None:
    """The node is not in /dev; CAP_MKNOD makes one, and the device cgroup refuses to open
    it. Privileged (all devices, rule a *:* rwm) or with --device the same read works.
    Read-only: the loop device is read-only and opened O_RDONLY."""
    dev, major, minor = loop_device
    made = ("mknodread", "/tmp/blk", str(major), str(minor))
    assert one(daemon, runtime, escape, "read", dev) == "ERR ENOENT"
    assert one(daemon, runtime, escape, *made) == "ERR EPERM"
    marker = "OK berth-escape-marker"
    assert one(daemon, runtime, escape, "read", dev, opts=("--privileged",)) == marker
    assert one(daemon, runtime, escape, *made, opts=("--privileged",)) == marker
    assert one(daemon, runtime, escape, *made, opts=("--device", f"{dev}:/dev/xvdz:r")) == marker


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_change_the_host_time(daemon: Daemon, escape: Path, runtime: str) -> None:
    """settimeofday/clock_settime need CAP_SYS_TIME (docker's profile allows them only with
    it). The control sets the kernel's timezone to the one it has: the same permission
    check as setting the clock, with nothing changed."""
    before = time.time()
    out = attempt(daemon, runtime, escape, "sh", "/e settime; /e settz; date -s 12:00 2>&1")
    assert out[:2] == ["ERR EPERM", "ERR EPERM"]
    assert "can't set date: Operation not permitted" in out[2]
    assert abs(time.time() - before) < 30, "the host clock did not move"
    assert one(daemon, runtime, escape, "settz", opts=("--cap-add", "SYS_TIME")) == "OK"
    assert one(daemon, runtime, escape, "settz", opts=("--privileged",)) == "OK"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_user_namespace_to_regain_capabilities(daemon: Daemon, escape: Path,
                                               runtime: str) -> None:
    """unshare(CLONE_NEWUSER) would make the container's root root of a new user namespace
    with every capability there. The seccomp filter is what blocks it (docker's profile
    allows unshare only with CAP_SYS_ADMIN); unconfined, the namespace is made, and its
    capabilities reach only what it owns (a tmpfs of its own mount namespace) and not the
    container's hostname."""
    assert one(daemon, runtime, escape, "userns") == "ERR EPERM"
    regained = f"OK caps={ALL_CAPS} mount=OK sethostname=EPERM"
    for opts in (("--security-opt", "seccomp=unconfined"), ("--cap-add", "SYS_ADMIN")):
        assert one(daemon, runtime, escape, "userns", opts=opts) == regained, opts


# ── binds, limits ─────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_write_a_read_only_bind(daemon: Daemon, escape: Path, runtime: str,
                                tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "f").write_text("host\n")
    script = "/e write /data/f container; mount -o remount,rw /data 2>&1"
    out = attempt(daemon, runtime, escape, "sh", script, opts=("-v", f"{shared}:/data:ro"))
    assert out[0] == "ERR EROFS"
    assert "Operation not permitted" in out[1] or "permission denied" in out[1], out
    assert (shared / "f").read_text() == "host\n"
    assert one(daemon, runtime, escape, "write", "/data/f", "container",
               opts=("-v", f"{shared}:/data")) == "OK"
    assert (shared / "f").read_text().startswith("container")


HOG = "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exhaust_memory(daemon: Daemon, runtime: str, names: list[str]) -> None:
    """A 64 MiB string in a 32 MiB container: the OOM killer of its cgroup ends it (the
    host, with GBs free, never notices); without the limit the same script finishes."""
    name = f"esc-{uuid.uuid4().hex[:8]}"
    names.append(name)
    done = daemon.docker("run", "--name", name, "--runtime", runtime, "--memory", "32m",
                         "busybox", "sh", "-c", HOG, check=False, timeout=120)
    assert done.returncode == 137 and "survived" not in done.stdout
    state = json.loads(daemon.docker("inspect", name).stdout)[0]["State"]
    assert state["OOMKilled"] is True
    free = daemon.docker("run", "--rm", "--runtime", runtime, "busybox", "sh", "-c", HOG,
                         timeout=120)
    assert free.stdout == "survived 67108864\n"


# A subshell forks the sleeps (ash gives up at the first fork that fails); at the limit
# nothing can fork, so the count is read with shell builtins, which then wait for the
# sleeps to end before grep may run.
FORKS = ("(for i in $(seq 60); do sleep 2 & done) 2>/tmp/err; "
         "read n </sys/fs/cgroup/pids/pids.current; echo $n; "
         "while read m </sys/fs/cgroup/pids/pids.current; [ $m -gt 1 ]; do :; done; "
         "grep -c \"can't fork\" /tmp/err")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exhaust_pids(daemon: Daemon, runtime: str) -> None:
    """A fork loop stops at --pids-limit 20; without a limit all 60 children run."""
    out = daemon.docker("run", "--rm", "--runtime", runtime, "--pids-limit", "20", "busybox",
                        "sh", "-c", FORKS, check=False).stdout.split()
    assert int(out[0]) <= 20 and out[1] == "1", out
    out = daemon.docker("run", "--rm", "--runtime", runtime, "busybox", "sh", "-c", FORKS,
                        check=False).stdout.split()
    assert out == ["61", "0"], "60 sleeps and the shell"


# ── /proc/self/exe, leaked fds ────────────────────────────────────────────────────────


def _watch(daemon: Daemon, name: str, rounds: int) -> list[str]:
    """Execs into a container whose init watches every /proc/<pid>/exe; what it saw."""
    deadline = time.monotonic() + 20
    while "OK" not in daemon.docker("logs", name).stdout.split():
        assert time.monotonic() < deadline, daemon.docker("logs", name).stderr
        time.sleep(0.1)
    for _ in range(rounds):
        daemon.docker("exec", name, "true")
        daemon.docker("exec", "-u", "1000", name, "true")
    daemon.docker("kill", name)
    return daemon.docker("logs", name).stdout.splitlines()[1:]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_proc_self_exe_of_a_runtime(daemon: Daemon, escape: Path, runtime: str,
                                    names: list[str]) -> None:
    """CVE-2019-5736: the container watches /proc/*/exe for a runtime process entering it
    (docker exec) and reopens its binary for writing. No process whose binary lives
    outside the container may be reachable, at any moment of 20 execs."""
    name = f"esc-{uuid.uuid4().hex[:8]}"
    names.append(name)
    daemon.docker("run", "-d", "--name", name, "--runtime", runtime, "-v",
                  f"{escape}:/e:ro", "busybox", "sh", "-c",
                  "cp /e /tmp/w && exec /tmp/w watch 600")
    seen = _watch(daemon, name, 10)
    reached = [line for line in seen if "path=OK" in line]
    assert reached == [], reached
    assert all(line.endswith("path=ERR EACCES") for line in seen), seen


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_init_of_a_container_joining_the_pid_namespace(daemon: Daemon, escape: Path,
                                                      runtime: str, names: list[str]) -> None:
    """A container started with --pid container:<x> has its runtime's init in x's pid
    namespace, blocked until the start with the state directory's fd open: x's root must
    reach neither its binary nor that host directory (CVE-2024-21626's way out)."""
    name = f"esc-{uuid.uuid4().hex[:8]}"
    names.append(name)
    daemon.docker("run", "-d", "--name", name, "--runtime", runtime, "-v",
                  f"{escape}:/e:ro", "busybox", "sh", "-c",
                  "cp /e /tmp/w && exec /tmp/w watch 600")
    deadline = time.monotonic() + 20
    while "OK" not in daemon.docker("logs", name).stdout.split():
        assert time.monotonic() < deadline, daemon.docker("logs", name).stderr
        time.sleep(0.1)
    for _ in range(5):
        daemon.docker("run", "--rm", "--runtime", runtime, "--pid", f"container:{name}",
                      "busybox", "true")
    daemon.docker("kill", name)
    # the joining containers' own processes, once exec'd, are theirs to see: busybox
    seen = [line for line in daemon.docker("logs", name).stdout.splitlines()[1:]
            if line.split()[1] != "/bin/busybox"]
    assert [line for line in seen if "path=OK" in line] == []
    assert all(line.endswith("path=ERR EACCES") for line in seen), seen


@pytest.mark.parametrize("runtime", ["native", "runc"])
def test_proc_exe_watch_finds_what_it_may_see(daemon: Daemon, escape: Path, runtime: str,
                                              host_sleep: int, names: list[str]) -> None:
    """The control of the watcher above: with the host's pids and CAP_SYS_PTRACE it does
    reach a process outside (the host's sleep), whose running binary refuses the write
    (ETXTBSY); only the pid namespace and ptrace_may_access were in the way."""
    name = f"esc-{uuid.uuid4().hex[:8]}"
    names.append(name)
    daemon.docker("run", "-d", "--name", name, "--runtime", runtime, "--pid", "host",
                  "--cap-add", "SYS_PTRACE", "-v", f"{escape}:/e:ro", "busybox", "sh", "-c",
                  f"cp /e /tmp/w && exec /tmp/w watch 600 {host_sleep}")
    seen = _watch(daemon, name, 0)
    assert len(seen) == 1 and seen[0].startswith(f"{host_sleep} /"), seen
    assert " path=OK wr=ETXTBSY fd=OK " in seen[0] and seen[0].endswith(" mem=OK"), seen


HOST_FREE = re.compile(r"(/dev/null|/dev/pts/\d+|pipe:\[\d+\]|socket:\[\d+\]|anon_inode:.*)")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_leaked_fds(daemon: Daemon, escape: Path, runtime: str, names: list[str]) -> None:
    """The container's init and an exec'd process hold 0, 1, 2 only, none naming a host
    path (CVE-2024-21626: a leaked fd of a host directory is a way out). The control: a
    descriptor the process does hold is listed."""
    name = f"esc-{uuid.uuid4().hex[:8]}"
    names.append(name)
    daemon.docker("run", "-d", "--name", name, "--runtime", runtime, "-v", f"{escape}:/e:ro",
                  "busybox", "sleep", "600")
    for pid in ("1", "self"):
        out = daemon.docker("exec", name, "/e", "fds", pid).stdout.splitlines()
        assert out[0] == "OK"
        fds = dict(line.split(" ", 1) for line in out[1:])
        assert sorted(fds) == ["0", "1", "2"], (pid, fds)
        assert all(HOST_FREE.fullmatch(target) for target in fds.values()), (pid, fds)
    held = daemon.docker("exec", name, "sh", "-c", "exec 7</etc/hostname; /e fds self").stdout
    assert "7 /etc/hostname" in held.splitlines()

