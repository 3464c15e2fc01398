"""Limits and privileges for real: cgroup memory/pids, capabilities, seccomp."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from berth.runtime import Stdio
from berth.runtime.linux.capabilities import mask
from berth.runtime.linux.cgroups import open_manager
from berth.runtime.linux.seccomp import default_profile
from berth.runtime.spec import DEFAULT_CAPABILITIES


def test_memory_limit_oom_kills_a_hog(runner, make_spec):
    # The shell (init, PID 1) accumulates the command substitution's 100 MB itself.
    spec = make_spec(["sh", "-c", 'x=$(head -c 100000000 /dev/zero | tr "\\0" a)'])
    limit = 20 * 1024 * 1024
    spec["linux"]["resources"] = {"memory": {"limit": limit, "swap": limit}}
    cgroup = open_manager(spec["linux"]["cgroupsPath"])
    result = runner.run(spec)
    assert result.status == -signal.SIGKILL
    assert cgroup.oom_kill_count() >= 1


def test_memory_limit_is_applied(runner, make_spec):
    spec = make_spec(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
    spec["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                           "source": "cgroup", "options": ["ro", "nosuid", "nodev"]})
    spec["linux"]["resources"] = {"memory": {"limit": 32 * 1024 * 1024}}
    # Through the cgroup namespace the container sees its own cgroup as the root.
    assert runner.run(spec).stdout == f"{32 * 1024 * 1024}\n"


def test_pids_limit_stops_a_fork_bomb(runner, make_spec):
    spec = make_spec(["sh", "-c", "for i in $(seq 30); do sleep 30 & done; echo all-forked"])
    spec["linux"]["resources"] = {"pids": {"limit": 10}}
    result = runner.run(spec)
    # ash gives up at the first failed fork; its exit as PID 1 takes the sleeps with it.
    assert "can't fork" in result.stderr and "all-forked" not in result.stdout
    events = Path("/sys/fs/cgroup/pids", spec["linux"]["cgroupsPath"].lstrip("/"),
                  "pids.events")
    assert int(events.read_text().split()[1]) >= 1  # "max N": forks refused at the limit


def test_capabilities_are_dropped(runner, make_spec):
    result = runner.run(make_spec(["grep", "^Cap", "/proc/self/status"]))
    caps = dict(line.split(":\t") for line in result.stdout.splitlines())
    expected = f"{mask(list(DEFAULT_CAPABILITIES)):016x}"
    assert expected == "00000000a80425fb"  # docker's well-known default
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == expected
    assert caps["CapAmb"] == "0000000000000000"


def test_non_root_user_keeps_configured_caps(runner, make_spec):
    spec = make_spec(["grep", "^CapEff", "/proc/self/status"])
    spec["process"]["user"] = {"uid": 1000, "gid": 1000}
    caps = spec["process"]["capabilities"]
    caps["ambient"] = caps["inheritable"] = ["CAP_NET_BIND_SERVICE"]
    result = runner.run(spec)
    assert result.stdout.split()[1] == f"{1 << 10:016x}"


def test_dropped_capability_is_enforced(runner, make_spec):
    spec = make_spec(["sh", "-c", "chown 1000 /tmp && echo chowned; hostname x || echo no"])
    caps = spec["process"]["capabilities"]
    for key in caps:
        caps[key] = [c for c in caps[key] if c != "CAP_CHOWN"]
    result = runner.run(spec)
    assert "chowned" not in result.stdout and result.stdout.strip().endswith("no")


def test_seccomp_blocks_mount_and_unshare(runner, make_spec):
    script = "mount -t tmpfs x /mnt; unshare -n true; echo $?; echo alive"
    spec = make_spec(["sh", "-c", script])
    caps = spec["process"]["capabilities"]
    for key in ("bounding", "effective", "permitted"):
        caps[key].append("CAP_SYS_ADMIN")  # so only seccomp can refuse
    spec["linux"]["seccomp"] = default_profile()
    result = runner.run(spec)
    # busybox words EPERM from mount(2) as "permission denied (are you root?)"
    assert "mount: permission denied" in result.stderr
    assert "unshare(0x40000000): Operation not permitted" in result.stderr
    assert result.stdout == "1\nalive\n"


def test_without_seccomp_the_same_mount_works(runner, make_spec):
    spec = make_spec(["sh", "-c", "mount -t tmpfs x /mnt && echo mounted"])
    caps = spec["process"]["capabilities"]
    for key in ("bounding", "effective", "permitted"):
        caps[key].append("CAP_SYS_ADMIN")
    assert runner.run(spec).stdout == "mounted\n"


def test_seccomp_without_no_new_privs(runner, make_spec):
    spec = make_spec(["sh", "-c", "grep NoNewPrivs /proc/self/status; mount -t tmpfs x /mnt"])
    spec["process"]["noNewPrivileges"] = False
    spec["process"]["user"] = {"uid": 1000, "gid": 1000}
    spec["linux"]["seccomp"] = default_profile()
    result = runner.run(spec)
    assert result.stdout.split() == ["NoNewPrivs:", "0"]
    assert result.status != 0


def test_devices_cgroup_denies_unlisted_devices(runner, make_spec):
    # mknod itself is allowed ("b *:* m", runc's and docker's default), opening is not.
    spec = make_spec(["sh", "-c", "mknod /tmp/sda b 8 0; head -c1 /tmp/sda || echo denied;"
                                  " echo x > /dev/null && echo null-ok"])
    rules = [{"allow": False, "access": "rwm"}]
    rules += [{"allow": True, "type": "c", "major": 1, "minor": m, "access": "rwm"}
              for m in (3, 5, 7, 8, 9)]
    rules += [{"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
              {"allow": True, "type": "c", "major": 136, "access": "rwm"}]
    spec["linux"]["resources"] = {"devices": rules}
    result = runner.run(spec)
    assert result.stdout.split() == ["denied", "null-ok"]


def test_terminal_makes_a_controlling_tty(runner, make_spec):
    import pty

    master, slave = pty.openpty()
    spec = make_spec(["sh", "-c", "ps -o pid,tty 2>/dev/null | head -1; cat /proc/self/stat"])
    spec["process"]["terminal"] = True
    try:
        cid, pid = runner.create(spec, Stdio(slave, slave, slave))
        os.close(slave)
        runner.runtime.start(cid)
        os.waitpid(pid, 0)
        out = os.read(master, 65536).decode()
    finally:
        os.close(master)
    fields = out.strip().splitlines()[-1].rsplit(")", 1)[1].split()
    session, tty_nr = int(fields[3]), int(fields[4])
    assert session == 1 and tty_nr != 0  # PID 1 leads a session with a controlling tty
