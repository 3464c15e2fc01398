"""What a container gets: namespaces, its own rootfs, mounts, cgroup limits — under every
runtime (native, runc, crun) with the same results."""

from __future__ import annotations

import json
import time

import pytest

from tests.compat.daemon import CGROUP_ROOT, Daemon

RUNTIMES = ["native", "runc", "crun"]


def run(daemon: Daemon, *args: str, check: bool = True) -> str:
    return daemon.berth("run", "--rm", *args, check=check).stdout


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_same_container_under_every_runtime(daemon: Daemon, runtime: str) -> None:
    script = ("echo $$; hostname; id; cat /etc/hostname; "
              "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; "
              "grep -E ' /(proc|sys|dev|dev/pts|dev/shm) ' /proc/self/mounts | cut -d' ' -f2,3,4 "
              "| cut -d, -f1; touch /sys/x 2>&1 | head -1; ls /dev | sort | tr '\\n' ' '")
    out = run(daemon, "--runtime", runtime, "--hostname", "box", "-u", "1000:1000",
              "busybox", "sh", "-c", script).splitlines()
    assert out[0] == "1", "PID 1 in its own pid namespace"
    assert out[1] == "box" and out[3] == "box"
    assert out[2].startswith("uid=1000 gid=1000")  # busybox, as docker's, names no 1000
    # the network namespace berth made before the runtime ran, joined by every runtime
    assert out[4:6] == ["lo", "eth0"], "its own network namespace: lo and the bridge's eth0"
    mounts = out[6:11]
    assert "/proc proc rw" in mounts and "/sys sysfs ro" in mounts
    assert "/dev tmpfs rw" in mounts and "/dev/pts devpts rw" in mounts
    assert "Read-only file system" in out[11]
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"):
        assert dev in out[12].split()


def _cgroup(daemon: Daemon, controller: str, cid: str, name: str) -> str:
    return (CGROUP_ROOT / controller / daemon.cgroup_parent / cid / name).read_text().strip()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cgroup_limits_are_applied(daemon: Daemon, runtime: str) -> None:
    cid = daemon.berth("run", "-d", "--runtime", runtime, "-m", "64m", "--cpus", "0.5",
                       "--cpu-shares", "512", "--pids-limit", "50", "busybox",
                       "sleep", "60").stdout.strip()
    try:
        assert _cgroup(daemon, "memory", cid, "memory.limit_in_bytes") == str(64 << 20)
        assert _cgroup(daemon, "cpu", cid, "cpu.cfs_quota_us") == "50000"
        assert _cgroup(daemon, "cpu", cid, "cpu.cfs_period_us") == "100000"
        assert _cgroup(daemon, "cpu", cid, "cpu.shares") == "512"
        assert _cgroup(daemon, "pids", cid, "pids.max") == "50"
        pid = json.loads(daemon.berth("inspect", cid).stdout)[0]["State"]["Pid"]
        procs = _cgroup(daemon, "memory", cid, "cgroup.procs").split()
        assert str(pid) in procs
    finally:
        daemon.berth("rm", "-f", cid)
    assert not (CGROUP_ROOT / "memory" / daemon.cgroup_parent / cid).exists()


def test_memory_limit_oom_kills(daemon: Daemon) -> None:
    name = "oomer"
    done = daemon.berth("run", "--name", name, "-m", "20m", "busybox", "sh", "-c",
                        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
                        check=False)
    try:
        assert done.returncode == 137
        state = json.loads(daemon.berth("inspect", name).stdout)[0]["State"]
        assert state["OOMKilled"] is True and state["ExitCode"] == 137
    finally:
        daemon.berth("rm", "-f", name)


def test_fork_bomb_stops_at_pids_limit(daemon: Daemon) -> None:
    cid = daemon.berth("run", "-d", "--pids-limit", "10", "busybox", "sh", "-c",
                       "(for i in $(seq 40); do sleep 30 & done); exec sleep 30").stdout.strip()
    try:
        deadline = time.monotonic() + 10
        while "can't fork" not in daemon.berth("logs", cid).stderr:
            assert time.monotonic() < deadline, "the shell never hit the pids limit"
            time.sleep(0.1)
        assert int(_cgroup(daemon, "pids", cid, "pids.current")) <= 10
    finally:
        daemon.berth("rm", "-f", cid)


def test_rootfs_is_copy_on_write(daemon: Daemon) -> None:
    """Destroying /bin in one container leaves the image and other containers intact."""
    daemon.berth("run", "-d", "--name", "keeper", "busybox", "sh", "-c",
                 "sleep 1; ls /bin/sh /bin/ls")
    try:
        wrecked = daemon.berth("run", "--rm", "busybox", "sh", "-c",
                               "/bin/busybox rm -rf /bin; /bin/busybox ls /bin", check=False)
        assert wrecked.returncode == 127 and "/bin/busybox: not found" in wrecked.stderr
        assert daemon.berth("wait", "keeper").stdout.strip() == "0"
        assert daemon.berth("logs", "keeper").stdout == "/bin/ls\n/bin/sh\n"
        assert run(daemon, "busybox", "ls", "/bin/sh") == "/bin/sh\n"
    finally:
        daemon.berth("rm", "-f", "keeper")


def test_etc_files_and_environment(daemon: Daemon) -> None:
    out = run(daemon, "-e", "X=y", "busybox", "sh", "-c",
              "cat /etc/hosts | head -1; echo $PATH; echo $X; cat /etc/resolv.conf | "
              "grep -c 127.0.0 || true").splitlines()
    assert out[0].split() == ["127.0.0.1", "localhost"]
    assert out[1] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert out[2] == "y"
    assert out[3] == "0", "loopback nameservers are filtered out of resolv.conf"


def test_workdir_is_created_in_the_container_only(daemon: Daemon) -> None:
    assert run(daemon, "-w", "/made/here", "busybox", "pwd") == "/made/here\n"
    assert run(daemon, "busybox", "ls", "/made", check=False) == ""


def test_no_mount_leaks_after_containers(daemon: Daemon) -> None:
    run(daemon, "busybox", "true")
    time.sleep(0.2)
    assert daemon.mounts() == [], "container rootfs mounts must stay in the shim"
