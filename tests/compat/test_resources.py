"""Resource flags end to end (issue 13): the docker CLI 28 and docker-py against berthd,
each limit read back from the host's cgroup files, from inside the container and from
inspect, under every runtime (native, runc, crun); ``docker update`` of a running
container's cgroup, persisted across a berthd restart; docker's refusals and warnings.

This host is cgroup v1 (hybrid): the v1 files are read here; the v2 manager's files are
checked in tests/unit/runtime/linux/test_cgroup_v2_resources.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.types import Ulimit

from tests.compat.daemon import CGROUP_ROOT, Daemon

RUNTIMES = ["native", "runc", "crun"]
MB = 1 << 20


def _cgroup(daemon: Daemon, controller: str, cid: str, name: str) -> str:
    return (CGROUP_ROOT / controller / daemon.cgroup_parent / cid / name).read_text().strip()


def _inspect(daemon: Daemon, ref: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(daemon.docker("inspect", ref).stdout)[0]
    return doc


def _disk() -> tuple[str, int, int]:
    """A real block device of this host: (/dev path, major, minor)."""
    for dev in sorted(Path("/sys/block").iterdir()):
        if not dev.name.startswith(("loop", "zram", "ram")) and \
                Path(f"/dev/{dev.name}").exists():
            major, minor = (dev / "dev").read_text().split(":")
            return f"/dev/{dev.name}", int(major), int(minor)
    pytest.skip("no block device")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_flags_reach_the_cgroup_and_the_container(daemon: Daemon, runtime: str) -> None:
    disk, major, minor = _disk()
    cid = daemon.docker(
        "run", "-d", "--runtime", runtime, "-m", "32m", "--memory-swap", "64m",
        "--memory-reservation", "16m", "--memory-swappiness", "10", "--cpu-period", "50000",
        "--cpu-quota", "25000", "--cpu-shares", "256", "--cpuset-cpus", "0",
        "--cpuset-mems", "0", "--pids-limit", "20", "--device-read-bps", f"{disk}:1mb",
        "--device-write-iops", f"{disk}:100", "--oom-score-adj", "200",
        "--ulimit", "nofile=1024:2048", "--ulimit", "core=-1", "--shm-size", "32m",
        "busybox", "sleep", "60").stdout.strip()
    try:
        assert _cgroup(daemon, "memory", cid, "memory.limit_in_bytes") == str(32 * MB)
        assert _cgroup(daemon, "memory", cid, "memory.memsw.limit_in_bytes") == str(64 * MB)
        assert _cgroup(daemon, "memory", cid, "memory.soft_limit_in_bytes") == str(16 * MB)
        assert _cgroup(daemon, "memory", cid, "memory.swappiness") == "10"
        assert _cgroup(daemon, "cpu", cid, "cpu.cfs_period_us") == "50000"
        assert _cgroup(daemon, "cpu", cid, "cpu.cfs_quota_us") == "25000"
        assert _cgroup(daemon, "cpu", cid, "cpu.shares") == "256"
        assert _cgroup(daemon, "cpuset", cid, "cpuset.cpus") == "0"
        assert _cgroup(daemon, "pids", cid, "pids.max") == "20"
        assert _cgroup(daemon, "blkio", cid, "blkio.throttle.read_bps_device") == \
            f"{major}:{minor} {MB}"
        assert _cgroup(daemon, "blkio", cid, "blkio.throttle.write_iops_device") == \
            f"{major}:{minor} 100"
        inside = daemon.docker(
            "exec", cid, "sh", "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ulimit -n; ulimit -Hn; "
            "cat /proc/1/oom_score_adj; df -k /dev/shm | tail -1; "
            "cat /sys/fs/cgroup/pids/pids.max; ulimit -c").stdout.splitlines()
        assert inside[0] == str(32 * MB), "the container sees its own limit"
        assert inside[1:3] == ["1024", "2048"]
        assert inside[3] == "200"
        assert inside[4].split()[1] == str(32 * 1024), "/dev/shm is 32 MiB"
        assert inside[5] == "20"
        assert inside[6] == "unlimited"
        host = _inspect(daemon, cid)["HostConfig"]
        assert host["Memory"] == 32 * MB and host["MemorySwap"] == 64 * MB
        assert host["MemorySwappiness"] == 10 and host["OomScoreAdj"] == 200
        assert host["ShmSize"] == 32 * MB and host["CpusetCpus"] == "0"
        assert host["Ulimits"] == [{"Name": "core", "Soft": -1, "Hard": -1},
                                   {"Name": "nofile", "Soft": 1024, "Hard": 2048}]
        assert host["BlkioDeviceReadBps"] == [{"Path": disk, "Rate": MB}]
    finally:
        daemon.docker("rm", "-f", cid)


def test_defaults_in_inspect_and_the_container(daemon: Daemon) -> None:
    out = daemon.docker("run", "--rm", "busybox", "sh", "-c",
                        "df -k /dev/shm | tail -1; cat /proc/1/oom_score_adj").stdout
    assert out.splitlines()[0].split()[1] == "65536"
    cid = daemon.docker("create", "-m", "64m", "busybox", "true").stdout.strip()
    try:
        host = _inspect(daemon, cid)["HostConfig"]
        assert host["ShmSize"] == 64 * MB
        assert host["MemorySwap"] == 128 * MB, "docker's default: swap as much as memory"
        assert host["MemorySwappiness"] is None and host["OomKillDisable"] is False
    finally:
        daemon.docker("rm", cid)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_devices_and_device_cgroup_rules(daemon: Daemon, runtime: str) -> None:
    """--device makes the node and allows it with its permissions (a loop device, which no
    default rule allows); --device-cgroup-rule allows opening what mknod makes."""
    script = ("ls -l /dev/myzero /dev/xloop; stat -c '%F %t:%T' /dev/myzero /dev/xloop; "
              "head -c 3 /dev/myzero | wc -c; head -c 1 /dev/xloop; echo read=$?; "
              "(echo x > /dev/xloop) 2>&1; mknod /tmp/l b 7 1; head -c 1 /tmp/l 2>&1")
    out = daemon.docker("run", "--rm", "--runtime", runtime, "--device", "/dev/zero:/dev/myzero",
                        "--device", "/dev/loop0:/dev/xloop:r", "busybox", "sh", "-c",
                        script, check=False).stdout.splitlines()[2:]
    assert out[0] == "character special file 1:5", out
    assert out[1] == "block special file 7:0", out
    assert out[2].strip() == "3" and out[3] == "read=0", "read allowed by the device's rule"
    assert "Operation not permitted" in out[4], "write is not in its permissions (r)"
    assert "Operation not permitted" in out[5], "7:1 is allowed by no rule (mknod is: "\
        "docker's default 'b *:* m')"
    ruled = daemon.docker("run", "--rm", "--runtime", runtime,
                          "--device-cgroup-rule", "b 7:* rwm", "busybox", "sh", "-c",
                          "mknod /tmp/l b 7 1 && head -c 1 /tmp/l; echo rc=$?").stdout
    assert "rc=0" in ruled, ruled


def test_device_errors_as_docker(daemon: Daemon) -> None:
    res = daemon.docker("run", "--rm", "--device", "/dev/nope-berth", "busybox", "true",
                        check=False)
    assert res.returncode == 127  # docker's for a start error naming a missing file
    assert ('error gathering device information while adding custom device '
            '"/dev/nope-berth": no such file or directory') in res.stderr
    res = daemon.docker("run", "--rm", "--device", "/dev/null:rel", "busybox", "true",
                        check=False)
    assert "rel is not an absolute path" in res.stderr
    res = daemon.docker("run", "--rm", "--device-cgroup-rule", "x 1:3 rwm", "busybox", "true",
                        check=False)
    assert "invalid device cgroup format 'x 1:3 rwm'" in res.stderr


@pytest.mark.parametrize(("flags", "message"), [
    (("-m", "4m"), "Minimum memory limit allowed is 6MB"),
    (("-m", "64m", "--memory-swap", "32m"),
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    (("--memory-swap", "64m"),
     "You should always set the Memory limit when using Memoryswap limit, see usage"),
    (("--cpuset-cpus", "5"), "Requested CPUs are not available - requested 5, available: 0-"),
    (("--cpus", "0.5", "--cpu-quota", "20000"),
     "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    (("--memory-swappiness", "101"), "Valid memory swappiness range is 0-100"),
    (("--ulimit", "nofile=2048:1024"),
     "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"),
    (("--oom-score-adj", "1001"), "Invalid value 1001, range for oom score adj is "
     "[-1000, 1000]"),
])
def test_bad_values_in_dockers_words(daemon: Daemon, flags: tuple[str, ...],
                                     message: str) -> None:
    res = daemon.docker("run", "--rm", *flags, "busybox", "true", check=False)
    assert res.returncode != 0 and message in res.stderr, res.stderr


def test_warnings_as_docker(daemon: Daemon) -> None:
    res = daemon.docker("create", "--oom-kill-disable", "busybox", "true")
    assert ("WARNING: OOM killer is disabled for the container, but no memory limit is set, "
            "this can result in the system running out of resources.") in res.stderr
    daemon.docker("rm", res.stdout.strip())
    if not (CGROUP_ROOT / "blkio/blkio.weight").exists():
        res = daemon.docker("create", "--blkio-weight", "300", "busybox", "true")
        assert ("WARNING: Your kernel does not support Block I/O weight or the cgroup is not "
                "mounted. Weight discarded.") in res.stderr
        assert _inspect(daemon, res.stdout.strip())["HostConfig"]["BlkioWeight"] == 0
        daemon.docker("rm", res.stdout.strip())


def test_memory_hog_is_oom_killed(daemon: Daemon) -> None:
    res = daemon.docker("run", "--name", "hog", "--memory", "16m", "--memory-swap", "16m",
                        "busybox", "sh", "-c",
                        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
                        check=False)
    try:
        assert res.returncode == 137 and "survived" not in res.stdout
        state = _inspect(daemon, "hog")["State"]
        assert state["OOMKilled"] is True and state["ExitCode"] == 137
    finally:
        daemon.docker("rm", "-f", "hog")


def test_pids_limit_stops_a_fork_bomb(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "--pids-limit", "10", "busybox", "sh", "-c",
                        "(for i in $(seq 40); do sleep 30 & done); exec sleep 30"
                        ).stdout.strip()
    try:
        deadline = time.monotonic() + 10
        while "can't fork" not in daemon.docker("logs", cid).stderr:
            assert time.monotonic() < deadline, "the shell never hit the pids limit"
            time.sleep(0.1)
        assert int(_cgroup(daemon, "pids", cid, "pids.current")) <= 10
    finally:
        daemon.docker("rm", "-f", cid)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_update_a_running_container(daemon: Daemon, runtime: str) -> None:
    cid = daemon.docker("run", "-d", "--runtime", runtime, "-m", "64m", "--cpus", "1",
                        "busybox", "sleep", "60").stdout.strip()
    try:
        out = daemon.docker("update", "-m", "128m", "--memory-swap", "256m", "--cpus", "0.5",
                            "--pids-limit", "30", "--cpu-shares", "300", "--cpuset-cpus", "0",
                            "--memory-reservation", "32m", cid).stdout
        assert out.strip() == cid
        assert _cgroup(daemon, "memory", cid, "memory.limit_in_bytes") == str(128 * MB)
        assert _cgroup(daemon, "memory", cid, "memory.memsw.limit_in_bytes") == str(256 * MB)
        assert _cgroup(daemon, "memory", cid, "memory.soft_limit_in_bytes") == str(32 * MB)
        assert _cgroup(daemon, "cpu", cid, "cpu.cfs_quota_us") == "50000"
        assert _cgroup(daemon, "cpu", cid, "cpu.shares") == "300"
        assert _cgroup(daemon, "cpuset", cid, "cpuset.cpus") == "0"
        assert _cgroup(daemon, "pids", cid, "pids.max") == "30"
        inside = daemon.docker("exec", cid, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
        assert inside.stdout.strip() == str(128 * MB)
        host = _inspect(daemon, cid)["HostConfig"]
        assert (host["Memory"], host["MemorySwap"], host["NanoCpus"], host["PidsLimit"]) == (
            128 * MB, 256 * MB, 500_000_000, 30)
        # lowering memory under the current memsw takes the other write order
        daemon.docker("update", "-m", "48m", "--memory-swap", "48m", cid)
        assert _cgroup(daemon, "memory", cid, "memory.limit_in_bytes") == str(48 * MB)
        daemon.docker("update", "--pids-limit", "-1", cid)
        assert _cgroup(daemon, "pids", cid, "pids.max") == "max"
    finally:
        daemon.docker("rm", "-f", cid)


def test_update_refusals_in_dockers_words(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "--cpus", "1", "busybox", "sleep", "60").stdout.strip()
    try:
        res = daemon.docker("update", "-m", "64m", cid, check=False)
        assert res.returncode == 1
        assert (f"Error response from daemon: Cannot update container {cid}: Memory limit "
                "should be smaller than already set memoryswap limit, update the memoryswap "
                "at the same time") in res.stderr
        res = daemon.docker("update", "--cpu-quota", "50000", cid, check=False)
        assert ("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already "
                "been set") in res.stderr
        res = daemon.docker("update", "-m", "1m", "--memory-swap", "2m", cid, check=False)
        assert "Minimum memory limit allowed is 6MB" in res.stderr
        res = daemon.docker("update", cid, check=False)
        assert "you must provide one or more flags when using this command" in res.stderr
        res = daemon.docker("update", "--restart", "sometimes", cid, check=False)
        assert "invalid restart policy" in res.stderr
        # the kernel refuses a limit under what the container uses: the record stays
        res = daemon.docker("exec", cid, "sh", "-c", "true")
        assert res.returncode == 0
    finally:
        daemon.docker("rm", "-f", cid)


def test_update_restart_policy(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c", "sleep 1; exit 3").stdout.strip()
    try:
        daemon.docker("update", "--restart", "on-failure:2", cid)
        assert _inspect(daemon, cid)["HostConfig"]["RestartPolicy"] == {
            "Name": "on-failure", "MaximumRetryCount": 2}
        deadline = time.monotonic() + 30
        while _inspect(daemon, cid)["RestartCount"] < 2:
            assert time.monotonic() < deadline, "the updated policy never restarted it"
            time.sleep(0.2)
    finally:
        daemon.docker("rm", "-f", cid)
    rm = daemon.docker("create", "--rm", "busybox", "true").stdout.strip()
    res = daemon.docker("update", "--restart", "always", rm, check=False)
    assert ("Restart policy cannot be updated because AutoRemove is enabled for the "
            "container") in res.stderr
    daemon.docker("rm", rm)


def test_update_of_a_stopped_container_applies_at_start(daemon: Daemon) -> None:
    cid = daemon.docker("create", "-m", "64m", "busybox", "sleep", "60").stdout.strip()
    try:
        daemon.docker("update", "-m", "96m", "--memory-swap", "192m", cid)
        daemon.docker("start", cid)
        assert _cgroup(daemon, "memory", cid, "memory.limit_in_bytes") == str(96 * MB)
    finally:
        daemon.docker("rm", "-f", cid)


def test_update_survives_a_daemon_restart(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    cid = d.docker("run", "-d", "-m", "64m", "busybox", "sleep", "120").stdout.strip()
    d.docker("update", "-m", "80m", "--memory-swap", "160m", "--pids-limit", "40", cid)
    d.stop()
    d.start()
    host = _inspect(d, cid)["HostConfig"]
    assert (host["Memory"], host["MemorySwap"], host["PidsLimit"]) == (80 * MB, 160 * MB, 40)
    assert _cgroup(d, "memory", cid, "memory.limit_in_bytes") == str(80 * MB)
    d.docker("update", "--pids-limit", "50", cid)  # the restored container updates too
    assert _cgroup(d, "pids", cid, "pids.max") == "50"
    d.docker("rm", "-f", cid)


def test_docker_py_resources_and_update(client: docker.DockerClient, daemon: Daemon) -> None:
    c = client.containers.run(
        "busybox", ["sleep", "60"], detach=True, mem_limit="48m", memswap_limit="96m",
        shm_size="16m", ulimits=[Ulimit(name="nofile", soft=512, hard=1024)],
        devices=["/dev/zero:/dev/z:r"], cpuset_cpus="0", oom_score_adj=100, pids_limit=25)
    try:
        assert _cgroup(daemon, "memory", c.id, "memory.limit_in_bytes") == str(48 * MB)
        code, out = c.exec_run(["sh", "-c", "ulimit -n; df -k /dev/shm | tail -1; "
                                "ls -l /dev/z | cut -c1"])
        lines = out.decode().splitlines()
        assert code == 0 and lines[0] == "512" and lines[1].split()[1] == str(16 * 1024)
        assert lines[2] == "c"
        result = c.update(mem_limit="64m", memswap_limit="128m", cpu_shares=700,
                          restart_policy={"Name": "unless-stopped"})
        assert result == {"Warnings": []}
        c.reload()
        host = c.attrs["HostConfig"]
        assert (host["Memory"], host["CpuShares"], host["PidsLimit"]) == (64 * MB, 700, 25)
        assert host["RestartPolicy"]["Name"] == "unless-stopped"
        assert _cgroup(daemon, "cpu", c.id, "cpu.shares") == "700"
        assert _cgroup(daemon, "memory", c.id, "memory.limit_in_bytes") == str(64 * MB)
        with pytest.raises(docker.errors.APIError) as err:
            c.update(mem_limit="256m")
        assert err.value.status_code == 409
    finally:
        c.remove(force=True)


def test_berth_cli_update(daemon: Daemon) -> None:
    cid = daemon.berth("run", "-d", "-m", "64m", "--ulimit", "nofile=256", "busybox",
                       "sleep", "60").stdout.strip()
    try:
        assert daemon.berth("exec", cid, "sh", "-c", "ulimit -n").stdout.strip() == "256"
        assert daemon.berth("update", "-m", "100m", "--memory-swap", "-1",
                            cid).stdout.strip() == cid
        assert _cgroup(daemon, "memory", cid, "memory.limit_in_bytes") == str(100 * MB)
        res = daemon.berth("update", "-m", "200m", cid, check=False)
        assert res.returncode == 1 and "Memory limit should be smaller" in res.stderr
    finally:
        daemon.berth("rm", "-f", cid)


def test_update_the_kernel_refuses_keeps_the_old_limits(daemon: Daemon) -> None:
    """No swap on this host: a memory limit under what the container holds cannot be met
    (EBUSY); the record and the cgroup keep the old limits."""
    if "\n/" in Path("/proc/swaps").read_text():
        pytest.skip("the host has swap: the kernel would swap instead of refusing")
    cid = daemon.docker("run", "-d", "-m", "64m", "busybox", "sh", "-c",
                        "x=$(head -c 30000000 /dev/zero | tr '\\0' a); touch /ready; "
                        "sleep 60; echo ${#x}").stdout.strip()  # not exec'd: x stays
    try:
        deadline = time.monotonic() + 20
        while daemon.docker("exec", cid, "test", "-e", "/ready", check=False).returncode:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        res = daemon.docker("update", "-m", "10m", "--memory-swap", "10m", cid, check=False)
        assert res.returncode == 1
        assert f"Cannot update container {cid}: cannot write " in res.stderr
        assert "device or resource busy" in res.stderr
        host = _inspect(daemon, cid)["HostConfig"]
        assert (host["Memory"], host["MemorySwap"]) == (64 * MB, 128 * MB)
        assert _cgroup(daemon, "memory", cid, "memory.limit_in_bytes") == str(64 * MB)
    finally:
        daemon.docker("rm", "-f", cid)


def test_update_a_paused_container(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "--pids-limit", "10", "busybox", "sleep",
                        "60").stdout.strip()
    try:
        daemon.docker("pause", cid)
        daemon.docker("update", "--pids-limit", "15", cid)
        assert _cgroup(daemon, "pids", cid, "pids.max") == "15"
        daemon.docker("unpause", cid)
        assert _inspect(daemon, cid)["State"]["Running"] is True
    finally:
        daemon.docker("rm", "-f", cid)
