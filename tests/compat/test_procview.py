"""The limits are visible where programs look (issue 13, docs/design/procview.md), through
the real docker CLI: the container's own cgroup at the root of /sys/fs/cgroup, and
lxcfs's /proc/meminfo, cpuinfo, stat and cpu/online showing its memory limit and CPU
quota, under every runtime; the host's values without limits or with the view off; the
one lxcfs of a berthd reused across restarts, restarted and bound again in running
containers if it dies, and gone (process and mount) when berthd stops."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.compat.daemon import Daemon

pytestmark = pytest.mark.skipif(shutil.which("lxcfs") is None,
                                reason="lxcfs is not installed (apt-get install lxcfs)")

RUNTIMES = ["native", "runc", "crun"]
LIMIT = 64 * 1024 * 1024
# The host's /usr bound read-only into busybox: procps's free and the JDK with their
# libraries (Debian's merged /usr), as a Debian-based image would have them.
HOST_USR = ("-v", "/usr:/usr:ro", "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro")


def _host_memtotal() -> str:
    with open("/proc/meminfo") as f:
        return f.readline().split()[1]


def _sh(d: Daemon, *args: str) -> str:
    return d.docker("run", "--rm", *args).stdout


def _lxcfs_mounts(d: Daemon) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if "fuse.lxcfs" in line and str(d.root) in line]


def _lxcfs_pid(d: Daemon) -> int:
    return int((d.exec_root / "lxcfs.pid").read_text().split()[0])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_limits_show_in_proc_and_the_cgroup_root(daemon: Daemon, runtime: str) -> None:
    out = _sh(daemon, "--runtime", runtime, "--memory", "64m", "--cpus", "1", "busybox",
              "sh", "-c",
              "head -1 /proc/meminfo; echo ---; grep -c ^processor /proc/cpuinfo; echo ---;"
              "grep ^cpu /proc/stat | cut -d' ' -f1; echo ---;"
              "cat /sys/devices/system/cpu/online; echo ---;"
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; echo ---;"
              "cut -d: -f3 /proc/self/cgroup | sort -u; echo ---; free -m")
    meminfo, cpus, stat, online, limit, cgroups, free = out.split("---\n")
    assert meminfo.split() == ["MemTotal:", str(LIMIT // 1024), "kB"]
    assert cpus.strip() == "1"
    assert stat.split() == ["cpu", "cpu0"]  # the total line and one cpu, as lxcfs gives
    assert online.strip() == "0"
    assert limit.strip() == str(LIMIT)  # the container's own cgroup at the root
    assert cgroups.split() == ["/"]
    # busybox's free takes total/free from sysinfo(2), which no filesystem can change
    # (lxcfs#263); its "available" column is /proc/meminfo's, so the limit's
    mem = free.splitlines()[1].split()
    assert mem[0] == "Mem:" and int(mem[-1]) <= 64


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_without_limits_the_hosts_values(daemon: Daemon, runtime: str) -> None:
    out = _sh(daemon, "--runtime", runtime, "busybox", "sh", "-c",
              "head -1 /proc/meminfo; grep -c ^processor /proc/cpuinfo;"
              "grep -c '^cpu[0-9]' /proc/stat")
    memtotal, cpus, stat_cpus = out.splitlines()
    assert memtotal.split()[1] == _host_memtotal()
    assert int(cpus) == int(stat_cpus) == os.cpu_count()


def test_procps_free_shows_the_limit(daemon: Daemon) -> None:
    if not Path("/usr/bin/free").exists():
        pytest.skip("procps is not installed on the host")
    out = _sh(daemon, "--memory", "64m", *HOST_USR, "busybox", "/usr/bin/free", "-m")
    mem = out.splitlines()[1].split()
    assert mem[:2] == ["Mem:", "64"], out


def test_a_jvm_sizes_itself_to_the_limit(daemon: Daemon) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no JDK on the host")
    done = daemon.docker("run", "--rm", "--memory", "256m", "--cpus", "1", *HOST_USR,
                         "busybox", os.path.realpath(java), "-XshowSettings:system",
                         "-XX:+PrintFlagsFinal", "-version")
    out = done.stdout + done.stderr  # -XshowSettings and -version write to stderr
    heap = next(int(line.split()[3]) for line in out.splitlines()
                if line.split()[1:2] == ["MaxHeapSize"])
    assert heap <= 256 * 1024 * 1024 // 2, heap  # the host has gigabytes
    assert "Effective CPU Count: 1" in out  # from the cgroup's CFS quota


def test_nproc_follows_the_cpuset_not_the_quota(daemon: Daemon) -> None:
    # busybox's (and coreutils') nproc counts sched_getaffinity's cpus: --cpus is a CFS
    # quota, which leaves it at the host's count under docker too; --cpuset-cpus pins
    assert _sh(daemon, "--cpus", "1", "busybox", "nproc").strip() == str(os.cpu_count())
    out = _sh(daemon, "--cpuset-cpus", "0", "busybox", "sh", "-c",
              "nproc; grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online")
    assert out.split() == ["1", "1", "0"]


def test_a_file_the_container_mounts_itself_is_kept(daemon: Daemon, tmp_path: Path) -> None:
    mine = tmp_path / "meminfo"
    mine.write_text("MemTotal: 42 kB\n")
    out = _sh(daemon, "--memory", "64m", "-v", f"{mine}:/proc/meminfo:ro", "busybox",
              "sh", "-c", "cat /proc/meminfo; grep -c ^processor /proc/cpuinfo")
    assert out.split() == ["MemTotal:", "42", "kB", str(os.cpu_count())]


def test_lxcfs_is_reused_restarted_and_rebound(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    pid = _lxcfs_pid(d)
    d.docker("run", "-d", "--name", "pv", "--memory", "64m", "busybox", "sleep", "600")
    # berthd stops: lxcfs stays for the running container, and the next berthd reuses it
    d.stop()
    assert _alive(pid) and _lxcfs_mounts(d)
    d.start()
    assert _lxcfs_pid(d) == pid
    assert d.docker("exec", "pv", "head", "-1", "/proc/meminfo").stdout.split()[1] == "65536"
    # lxcfs dies: the container's binds read ENOTCONN until berthd's watch (or the next
    # start) has started a new one and bound its files again in the running container
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while True:
        done = d.docker("exec", "pv", "head", "-1", "/proc/meminfo", check=False)
        if done.returncode == 0:
            break
        assert "Transport endpoint is not connected" in done.stderr
        assert time.monotonic() < deadline, "lxcfs's files were not bound again"
        time.sleep(0.2)
    assert done.stdout.split()[1] == "65536"
    assert _lxcfs_pid(d) != pid
    while "lxcfs's files bound again" not in d.log():  # logged once the helper is done
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # a container started meanwhile gets the new lxcfs's files
    assert _sh(d, "--memory", "64m", "busybox", "head", "-1", "/proc/meminfo").split()[1] \
        == "65536"
    assert d.docker("exec", "pv", "grep", "-c", "^cpu", "/proc/stat").stdout.strip() != ""
    # nothing running: berthd's stop takes lxcfs and its mount with it
    d.docker("rm", "-f", "pv")
    pid = _lxcfs_pid(d)
    d.stop()
    assert not _alive(pid)
    assert _lxcfs_mounts(d) == []
    assert not (d.exec_root / "lxcfs.pid").exists()


def test_proc_view_off_shows_the_hosts_values(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    d.stop()
    d.settings["proc_view"] = False
    d.start()
    assert _lxcfs_mounts(d) == []
    warnings = d.docker("info", "--format", "{{json .Warnings}}").stdout
    assert "containers see the host's /proc/meminfo, cpuinfo and stat: proc_view = false" \
        in warnings
    out = _sh(d, "--memory", "64m", "--cpus", "1", "busybox", "sh", "-c",
              "head -1 /proc/meminfo; grep -c ^processor /proc/cpuinfo;"
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
    memtotal, cpus, limit = out.splitlines()
    assert memtotal.split()[1] == _host_memtotal()
    assert int(cpus) == os.cpu_count()
    assert limit == str(LIMIT)  # the cgroup view does not depend on it
    d.stop()
    d.start("--proc-view")  # the flag wins over daemon.toml
    assert _lxcfs_mounts(d)
    assert "/proc" not in d.docker("info", "--format", "{{json .Warnings}}").stdout
    assert _sh(d, "--memory", "64m", "busybox", "head", "-1", "/proc/meminfo").split()[1] \
        == "65536"


def test_lxcfs_that_cannot_start_leaves_the_view_off(fresh_daemon: Daemon, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    d = fresh_daemon
    d.stop()
    broken = tmp_path / "lxcfs"
    broken.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 5.0.3 && exit 0\n"
                      "echo 'fuse: device not found' >&2; exit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    d.start()  # berthd starts anyway
    assert _lxcfs_mounts(d) == []
    assert d.log().count("the containers' /proc view is off: lxcfs did not start") == 1
    assert "fuse: device not found" in d.docker("info", "--format", "{{json .Warnings}}").stdout
    out = _sh(d, "--memory", "64m", "busybox", "head", "-1", "/proc/meminfo")
    assert out.split()[1] == _host_memtotal()


# last: the dockerd fixture lives until the session ends, and its bridge takes an
# address pool the fresh daemons above need
def test_docker_gives_the_same_cgroup_root_and_nproc(daemon: Daemon, real_dockerd: Any) -> None:
    # the reference: docker 28 with runc (no lxcfs) on the same host; its default cgroup
    # namespace on a v1 host is the host's, berth's is private
    script = ("cut -d: -f3 /proc/self/cgroup | sort -u;"
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; nproc")
    argv = ["run", "--rm", "--memory", "64m", "--cpus", "1", "busybox", "sh", "-c", script]
    theirs = subprocess.run([*real_dockerd.cli, "run", "--cgroupns", "private", *argv[1:]],
                            capture_output=True, text=True,
                            env=real_dockerd.env, timeout=120, stdin=subprocess.DEVNULL)
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout.split() == ["/", str(LIMIT), str(os.cpu_count())]
    assert _sh(daemon, *argv[2:]).split() == theirs.stdout.split()
