"""NativeRuntime against the real kernel: namespaces, pivot_root, mounts, user, exec."""

from __future__ import annotations

import os
import time

import pytest

from berth.errors import RuntimeFailure
from berth.runtime import Stdio


def test_pid_1_inside(runner, make_spec):
    result = runner.run(make_spec(["sh", "-c", "echo $$"]))
    assert (result.status, result.stdout, result.stderr) == (0, "1\n", "")


def test_only_own_processes_visible(runner, make_spec):
    result = runner.run(make_spec(["sh", "-c", "ls /proc | grep -c '^[0-9]'"]))
    # sh and the pipeline's ls/grep: nothing of the host's hundreds of processes.
    assert result.status == 0 and int(result.stdout) <= 3


def test_hostname(runner, make_spec):
    result = runner.run(make_spec(["hostname"], hostname="box1"))
    assert result.stdout == "box1\n"
    assert os.uname().nodename != "box1"


def test_network_namespace_has_only_loopback(runner, make_spec):
    result = runner.run(make_spec(["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"]))
    assert [line.strip() for line in result.stdout.splitlines()] == ["lo"]


def test_user_and_groups(runner, make_spec):
    spec = make_spec(["id"])
    spec["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}
    result = runner.run(spec)
    assert result.status == 0
    assert result.stdout.startswith("uid=1000(user) gid=1000(user) groups=")
    assert "10" in result.stdout and "20" in result.stdout


def test_proc_mounted_and_sys_read_only(runner, make_spec):
    script = ("grep -E ' /(proc|sys) ' /proc/self/mounts | cut -d' ' -f2,3,4 | cut -d, -f1;"
              " touch /sys/x 2>/dev/null || echo sys-readonly;"
              " echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo procsys-readonly")
    result = runner.run(make_spec(["sh", "-c", script]))
    lines = result.stdout.splitlines()
    assert "/proc proc rw" in lines and "/sys sysfs ro" in lines
    assert "sys-readonly" in lines and "procsys-readonly" in lines


def test_pivot_root_hides_host(runner, make_spec, busybox_rootfs):
    marker = f"berth-host-marker-{os.getpid()}"
    (busybox_rootfs / "in-rootfs").write_text("yes\n")
    with open(f"/tmp/{marker}", "w") as f:
        f.write("host")
    try:
        script = f"ls /tmp/{marker} 2>&1; cat /in-rootfs; ls -d /proc/1/root/in-rootfs"
        result = runner.run(make_spec(["sh", "-c", script]))
    finally:
        os.unlink(f"/tmp/{marker}")
    assert "No such file" in result.stdout
    assert "yes\n/proc/1/root/in-rootfs\n" in result.stdout
    # The old root is detached: only the container's mounts are left.
    mounts = runner.run(make_spec(["cat", "/proc/self/mountinfo"])).stdout
    assert " /work" not in mounts and " /usr " not in mounts


def test_devices_and_dev_symlinks(runner, make_spec):
    script = ("ls -l /dev/null | cut -c1,5-; readlink /dev/ptmx; readlink /dev/fd;"
              " echo hi > /dev/null && head -c 3 /dev/zero | wc -c")
    result = runner.run(make_spec(["sh", "-c", script]))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("c") and lines[0][1:4] == "rw-"
    assert lines[1:] == ["pts/ptmx", "/proc/self/fd", "3"]


def test_masked_and_readonly_paths(runner, make_spec):
    script = ("wc -c < /proc/keys; grep -E ' /(sys/firmware|proc/sys) ' /proc/self/mounts"
              " | cut -d' ' -f2,3,4 | cut -d, -f1")
    result = runner.run(make_spec(["sh", "-c", script]))
    lines = result.stdout.splitlines()
    assert lines[0] == "0"  # /dev/null bound over a file
    assert sorted(lines[1:]) == ["/proc/sys proc ro", "/sys/firmware tmpfs ro"]


def test_bind_mounts_files_and_read_only_root(runner, make_spec, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost berthbox\n")
    spec = make_spec(["sh", "-c", "cat /etc/hosts; touch /etc/hosts || echo ro-bind;"
                                  " touch /newfile 2>/dev/null || echo ro-root"])
    spec["mounts"].append({"destination": "/etc/hosts", "type": "bind",
                           "source": str(hosts), "options": ["rbind", "rprivate", "ro"]})
    spec["root"]["readonly"] = True
    result = runner.run(spec)
    assert result.stdout.splitlines() == ["127.0.0.1 localhost berthbox", "ro-bind",
                                          "ro-root"]


def test_symlinked_mount_destination_stays_in_rootfs(runner, make_spec, busybox_rootfs,
                                                     tmp_path):
    # An image may point a mount destination at a host path; it must land inside.
    (busybox_rootfs / "escape").symlink_to("/../../../tmp/berth-escape-target")
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("bound\n")
    spec = make_spec(["cat", "/tmp/berth-escape-target/f"])
    spec["mounts"].append({"destination": "/escape", "type": "bind", "source": str(source),
                           "options": ["rbind"]})
    result = runner.run(spec)
    assert result.stdout == "bound\n"
    assert not os.path.exists("/tmp/berth-escape-target")


def test_sysctl_and_rlimits(runner, make_spec):
    spec = make_spec(["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; ulimit -n"])
    spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]
    assert runner.run(spec).stdout.split() == ["1", "321"]


def test_env_cwd_and_stdio(runner, make_spec):
    spec = make_spec(["sh", "-c", "echo $FOO; pwd; echo err >&2"])
    spec["process"]["env"].append("FOO=bar")
    spec["process"]["cwd"] = "/tmp"
    result = runner.run(spec)
    assert (result.stdout, result.stderr) == ("bar\n/tmp\n", "err\n")


@pytest.mark.parametrize(("args", "message"), [
    (["nosuchcmd"], 'exec: "nosuchcmd": executable file not found in $PATH'),
    (["/bin/nope"], 'exec: "/bin/nope": stat /bin/nope: no such file or directory'),
    (["/etc/passwd"], 'exec: "/etc/passwd": permission denied'),
    (["/tmp"], 'exec: "/tmp": permission denied'),
])
def test_exec_errors_are_runc_words(runner, make_spec, args, message):
    with pytest.raises(RuntimeFailure) as info:
        runner.run(make_spec(args))
    assert str(info.value) == message


def test_missing_cwd_is_created_as_runc_does(runner, make_spec):
    spec = make_spec(["pwd"])
    spec["process"]["cwd"] = "/does/not/exist"
    assert runner.run(spec).stdout == "/does/not/exist\n"


def test_unusable_cwd_fails_clearly(runner, make_spec):
    spec = make_spec(["true"])
    spec["process"]["cwd"] = "/etc/passwd"
    with pytest.raises(RuntimeFailure, match=r"cwd.*etc/passwd.*not a directory"):
        runner.run(spec)


def test_failed_create_leaves_nothing(runner, make_spec):
    spec = make_spec(["nosuchcmd"])
    with pytest.raises(RuntimeFailure):
        runner.run(spec)
    cgroup = "/sys/fs/cgroup/memory" + spec["linux"]["cgroupsPath"]
    assert not os.path.exists(cgroup)
    assert list(runner.runtime.state_root.iterdir()) == []


def test_kill_and_states(runner, make_spec):
    null = os.open("/dev/null", os.O_RDWR)
    try:
        cid, pid = runner.create(make_spec(["sleep", "60"]), Stdio(null, null, null))
    finally:
        os.close(null)
    rt = runner.runtime
    assert rt.status(cid) == "created"
    rt.start(cid)
    assert rt.status(cid) == "running"
    rt.kill(cid, 9)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == -9
    assert rt.status(cid) == "stopped"
    rt.delete(cid)
    rt.delete(cid)  # idempotent
    assert not (rt.state_root / cid).exists()


def test_create_start_is_fast(runner, make_spec):
    spec = make_spec(["true"])
    runner.run(spec)  # warm caches
    begin = time.perf_counter()
    result = runner.run(make_spec(["true"]))
    elapsed = time.perf_counter() - begin
    assert result.status == 0
    assert elapsed < 0.5, elapsed


def test_failure_after_spawn_kills_init(runner, make_spec, monkeypatch):
    from berth.runtime.linux import runtime as runtime_module

    spawned: list[int] = []
    real_start_time = runtime_module.process.start_time

    def failing_start_time(pid):
        spawned.append(pid)
        real_start_time(pid)
        raise FileNotFoundError("state dir vanished")

    monkeypatch.setattr(runtime_module.process, "start_time", failing_start_time)
    spec = make_spec(["true"])
    with pytest.raises(RuntimeFailure, match="state dir vanished"):
        runner.run(spec)
    assert spawned and not runtime_module.process.is_alive(spawned[0])
    assert not os.path.exists("/sys/fs/cgroup/memory" + spec["linux"]["cgroupsPath"])
