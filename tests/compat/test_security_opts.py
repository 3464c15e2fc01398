"""Security options end to end (issue 13): the docker CLI 28 and docker-py against berthd,
under every runtime (native, runc, crun), checked where the kernel shows them
(/proc/self/status, /proc/self/cgroup, /dev, what a syscall answers)."""

from __future__ import annotations

import grp
import json
import os
import socket
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.compat.daemon import Daemon

RUNTIMES = ["native", "runc", "crun"]
# docker's default set: chown dac_override fowner fsetid kill setgid setuid setpcap
# net_bind_service net_raw sys_chroot mknod audit_write setfcap
DEFAULT_CAPS = 0x00000000A80425FB
NET_ADMIN = 1 << 12


def status(daemon: Daemon, *args: str) -> dict[str, str]:
    """/proc/self/status of a container run with ``args``."""
    out = daemon.docker("run", "--rm", *args, "busybox", "cat", "/proc/self/status").stdout
    return dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)


def host_caps() -> int:
    """berthd's bounding set is this test's: root with every capability."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))


@pytest.fixture
def names(daemon: Daemon) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    if made:
        daemon.docker("rm", "-f", *made, check=False)


def _name(names: list[str]) -> str:
    names.append(f"sec-{uuid.uuid4().hex[:8]}")
    return names[-1]


# ── capabilities ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_capabilities(daemon: Daemon, runtime: str) -> None:
    rt = ("--runtime", runtime)
    plain = status(daemon, *rt)
    assert int(plain["CapEff"], 16) == DEFAULT_CAPS == int(plain["CapBnd"], 16)
    none = status(daemon, *rt, "--cap-drop", "ALL")
    assert int(none["CapEff"], 16) == 0 and int(none["CapBnd"], 16) == 0
    added = status(daemon, *rt, "--cap-add", "net_admin")
    assert int(added["CapEff"], 16) == DEFAULT_CAPS | NET_ADMIN
    only = status(daemon, *rt, "--cap-drop", "all", "--cap-add", "CAP_NET_ADMIN")
    assert int(only["CapBnd"], 16) == NET_ADMIN
    dropped = status(daemon, *rt, "--cap-drop", "chown")
    assert int(dropped["CapEff"], 16) == DEFAULT_CAPS & ~1
    # the capability is what blocks it: NET_ADMIN lets the same command through
    denied = daemon.docker("run", "--rm", *rt, "busybox", "ip", "link", "set", "lo", "mtu",
                           "1280", check=False)
    assert denied.returncode != 0 and "not permitted" in denied.stderr
    daemon.docker("run", "--rm", *rt, "--cap-add", "NET_ADMIN", "busybox", "ip", "link",
                  "set", "lo", "mtu", "1280")


def test_unknown_capability_refused_as_docker(daemon: Daemon) -> None:
    done = daemon.docker("run", "--rm", "--cap-add", "foo", "busybox", "true", check=False)
    assert done.returncode == 125
    assert 'invalid CapAdd: unknown capability: "CAP_FOO"' in done.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_privileged(daemon: Daemon, runtime: str) -> None:
    out = daemon.docker(
        "run", "--rm", "--runtime", runtime, "--privileged", "busybox", "sh", "-c",
        "grep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status; "
        "ip link add berthb0 type bridge && echo LINK-ADDED; ls /dev; "
        "grep ' /sys ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1; "
        "cat /proc/kcore >/dev/null 2>&1; wc -c </proc/timer_list; "
        "grep -c ' /sys/fs/cgroup/[^ ]* cgroup ro' /proc/self/mounts || true").stdout
    lines = out.splitlines()
    fields = dict(line.split(":\t") for line in lines[:3])
    assert int(fields["CapEff"], 16) == host_caps() == int(fields["CapBnd"], 16)
    assert fields["Seccomp"] == "0"
    assert "LINK-ADDED" in lines
    devices = set(lines)
    host = {e.name for e in os.scandir("/dev")
            if stat.S_ISCHR(os.lstat(e.path).st_mode) and e.name != "console"}
    assert host <= devices, f"host devices missing: {sorted(host - devices)[:5]}"
    assert "kmsg" in devices
    assert "rw" in lines, "/sys is read-write"
    assert lines[-2] != "0", "no masked paths: /proc/timer_list is readable"
    assert lines[-1] == "0", "the cgroup mounts are read-write"
    plain = daemon.docker("run", "--rm", "--runtime", runtime, "busybox", "grep", "-c",
                          " /sys/fs/cgroup/[^ ]* cgroup ro", "/proc/self/mounts").stdout
    assert int(plain) > 0, "read-only without --privileged"


# ── no-new-privileges, seccomp ────────────────────────────────────────────────────────


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_new_privileges_and_seccomp_modes(daemon: Daemon, runtime: str) -> None:
    rt = ("--runtime", runtime)
    plain = status(daemon, *rt)
    assert plain["NoNewPrivs"] == "0" and plain["Seccomp"] == "2"
    for opt in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
        assert status(daemon, *rt, "--security-opt", opt)["NoNewPrivs"] == "1"
    assert status(daemon, *rt, "--security-opt", "no-new-privileges=false")[
        "NoNewPrivs"] == "0"
    assert status(daemon, *rt, "--security-opt", "seccomp=unconfined")["Seccomp"] == "0"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_custom_seccomp_profile(daemon: Daemon, runtime: str, tmp_path: Path) -> None:
    profile = tmp_path / "nomkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                     "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64",
                     "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 1}]}, indent=2))
    done = daemon.docker("run", "--rm", "--runtime", runtime, "--security-opt",
                         f"seccomp={profile}", "busybox", "sh", "-c",
                         "touch /made && echo TOUCHED; mkdir /d", check=False)
    assert "TOUCHED" in done.stdout
    assert done.returncode == 1 and "Operation not permitted" in done.stderr
    assert daemon.docker("run", "--rm", "--runtime", runtime, "busybox", "mkdir", "/d"
                         ).returncode == 0


def test_cap_add_sys_admin_opens_the_default_profile(daemon: Daemon) -> None:
    """docker's default profile allows mount and unshare with CAP_SYS_ADMIN only: the
    capability, not the filter, is what blocks them by default."""
    script = "mkdir /m; mount -t tmpfs t /m && echo MOUNTED; unshare -n true && echo UNSHARED"
    denied = daemon.docker("run", "--rm", "busybox", "sh", "-c", script, check=False)
    assert "MOUNTED" not in denied.stdout and "UNSHARED" not in denied.stdout
    allowed = daemon.docker("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c",
                            script)
    assert allowed.stdout.split() == ["MOUNTED", "UNSHARED"]


def test_bad_security_opts(daemon: Daemon, tmp_path: Path) -> None:
    for opt, message in (("foo=bar", 'invalid --security-opt 2: "foo=bar"'),
                         ("no-new-privileges=maybe",
                          'invalid --security-opt 2: "no-new-privileges=maybe"')):
        done = daemon.docker("run", "--rm", "--security-opt", opt, "busybox", "true",
                             check=False)
        assert done.returncode == 125 and message in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", '
                   '"names": ["b"], "action": "SCMP_ACT_ERRNO"}]}')
    done = daemon.docker("run", "--rm", "--security-opt", f"seccomp={bad}", "busybox",
                         "true", check=False)
    assert done.returncode == 125 and "both 'name' and 'names'" in done.stderr


# ── groups, sysctls ───────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_group_add(daemon: Daemon, runtime: str, names: list[str]) -> None:
    out = daemon.docker("run", "--rm", "--runtime", runtime, "--group-add", "audio",
                        "--group-add", "4242", "-u", "1000", "busybox", "id").stdout
    groups = out.strip().split("groups=")[1].split(",")
    assert "29(audio)" in groups and "4242" in groups, out
    name = _name(names)
    daemon.docker("run", "-d", "--name", name, "--runtime", runtime, "--group-add", "audio",
                  "busybox", "sleep", "1234")
    assert "29" in daemon.docker("exec", name, "id", "-G").stdout.split(), (
        "an exec keeps the container's added groups")
    missing = daemon.docker("run", "--rm", "--group-add", "nosuchgroup", "busybox", "id",
                            check=False)
    assert missing.returncode != 0
    assert "Unable to find group nosuchgroup" in missing.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_sysctls(daemon: Daemon, runtime: str) -> None:
    out = daemon.docker("run", "--rm", "--runtime", runtime, "--sysctl",
                        "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=123456789",
                        "busybox", "cat", "/proc/sys/net/ipv4/ip_forward",
                        "/proc/sys/kernel/shmmax").stdout
    assert out.split() == ["1", "123456789"]


def test_non_namespaced_sysctls_refused(daemon: Daemon, client: docker.DockerClient) -> None:
    done = daemon.docker("run", "--rm", "--sysctl", "kernel.panic=1", "busybox", "true",
                         check=False)
    assert done.returncode == 125
    assert ('invalid argument "kernel.panic=1" for "--sysctl" flag: sysctl '
            "'kernel.panic=1' is not allowed") in done.stderr
    with pytest.raises(docker.errors.APIError) as err:
        client.containers.create("busybox", "true", sysctls={"kernel.panic": "1"})
    assert err.value.status_code == 400
    assert 'sysctl "kernel.panic" is not in a separate kernel namespace' in str(err.value)
    done = daemon.docker("run", "--rm", "--network", "host", "--sysctl",
                         "net.ipv4.ip_forward=1", "busybox", "true", check=False)
    assert 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace' in (
        done.stderr)


# ── namespaces ────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_host_namespaces(daemon: Daemon, runtime: str) -> None:
    out = daemon.docker("run", "--rm", "--runtime", runtime, "--pid", "host", "--uts",
                        "host", "--cgroupns", "host", "busybox", "sh", "-c",
                        "cat /proc/1/comm; hostname; grep -c '^.*:.*:/$' /proc/self/cgroup "
                        "|| true; cat /proc/self/cgroup").stdout.splitlines()
    assert out[0] == Path("/proc/1/comm").read_text().strip(), "the host's PID 1"
    assert out[1] == socket.gethostname()
    assert any(daemon.cgroup_parent in line for line in out[3:]), out


def test_init_only_in_a_private_pid_namespace(daemon: Daemon) -> None:
    """moby adds docker-init only where the container has its own pid namespace."""
    assert daemon.docker("run", "--rm", "--init", "busybox", "cat", "/proc/1/cmdline"
                         ).stdout.startswith("/sbin/docker-init")
    out = daemon.docker("run", "--rm", "--init", "--pid", "host", "busybox", "sh", "-c",
                        "cat /proc/self/cmdline | tr '\\0' ' '; ls /sbin/docker-init"
                        " 2>/dev/null || echo NO-INIT").stdout
    assert out.startswith("cat /proc/self/cmdline") and "NO-INIT" in out


def test_uts_host_refuses_a_hostname(daemon: Daemon) -> None:
    done = daemon.docker("run", "--rm", "--uts", "host", "-h", "box", "busybox", "true",
                         check=False)
    assert done.returncode == 125
    assert "conflicting options: hostname and the UTS mode" in done.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pid_container(daemon: Daemon, runtime: str, names: list[str]) -> None:
    donor = _name(names)
    daemon.docker("run", "-d", "--name", donor, "--runtime", runtime, "busybox", "sleep",
                  "1234")
    out = daemon.docker("run", "--rm", "--runtime", runtime, "--pid", f"container:{donor}",
                        "busybox", "ps", "-o", "pid,args").stdout
    assert "sleep 1234" in out
    cid = json.loads(daemon.docker("inspect", donor).stdout)[0]["Id"]
    joined = _name(names)
    daemon.docker("create", "--name", joined, "--pid", f"container:{donor}", "busybox",
                  "true")
    host = json.loads(daemon.docker("inspect", joined).stdout)[0]["HostConfig"]
    assert host["PidMode"] == f"container:{cid}", "recorded by id, as docker's"
    daemon.docker("stop", "-t", "0", donor)
    done = daemon.docker("start", joined, check=False)
    assert done.returncode != 0
    assert f"failed to join PID namespace: container {cid} is not running" in done.stderr


def test_pid_container_missing(daemon: Daemon) -> None:
    done = daemon.docker("run", "--rm", "--pid", "container:nosuchbox", "busybox", "true",
                         check=False)
    assert done.returncode == 125 and "No such container: nosuchbox" in done.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ipc_container(daemon: Daemon, runtime: str, names: list[str]) -> None:
    donor, private = _name(names), _name(names)
    # opening a file in /dev/mqueue with O_CREAT makes a POSIX message queue of the
    # container's IPC namespace
    daemon.docker("run", "-d", "--name", donor, "--runtime", runtime, "--ipc", "shareable",
                  "--shm-size", "8m", "busybox", "sh", "-c",
                  "touch /dev/mqueue/berthq; echo hello > /dev/shm/note; sleep 1234")
    out = daemon.docker("run", "--rm", "--runtime", runtime, "--ipc", f"container:{donor}",
                        "busybox", "sh", "-c", "sleep 0.3; ls /dev/mqueue; cat /dev/shm/note;"
                        " echo back > /dev/shm/reply; df -k /dev/shm | tail -1").stdout
    lines = out.splitlines()
    assert lines[:2] == ["berthq", "hello"], out
    assert lines[2].split()[1] == "8192", "the donor's --shm-size"
    assert daemon.docker("exec", donor, "cat", "/dev/shm/reply").stdout == "back\n"
    cid = json.loads(daemon.docker("inspect", donor).stdout)[0]["Id"]
    shm = daemon.exec_root / "shm" / cid
    assert f" {shm} tmpfs " in Path("/proc/self/mounts").read_text()
    daemon.docker("rm", "-f", donor)
    assert not shm.exists(), "the donor's tmpfs goes with it"
    assert daemon.docker("run", "--rm", "busybox", "ls", "/dev/mqueue").stdout == ""
    daemon.docker("run", "-d", "--name", private, "busybox", "sleep", "1234")
    done = daemon.docker("run", "--rm", "--ipc", f"container:{private}", "busybox", "true",
                         check=False)
    assert "non-shareable IPC (hint: use IpcMode:shareable for the donor container)" in (
        done.stderr)


def test_ipc_none_and_host(daemon: Daemon) -> None:
    none = daemon.docker("run", "--rm", "--ipc", "none", "busybox", "sh", "-c",
                         "grep -c ' /dev/shm ' /proc/self/mounts || true").stdout
    assert none.strip() == "0"
    shared = Path("/dev/shm") / f"berth-test-{uuid.uuid4().hex[:8]}"
    shared.write_text("from the host")
    try:
        assert daemon.docker("run", "--rm", "--ipc", "host", "busybox", "cat",
                             str(shared)).stdout == "from the host"
    finally:
        shared.unlink()


def test_bad_modes_refused(daemon: Daemon, client: docker.DockerClient) -> None:
    for flag, value, message in (("--pid", "bogus", "--pid: invalid PID mode"),
                                 ("--uts", "x", "--uts: invalid UTS mode"),
                                 ("--userns", "remap", "--userns: invalid USER mode"),
                                 ("--cgroupns", "x", "--cgroupns: invalid CGROUP mode"),
                                 ("--ipc", "bogus", "invalid IPC mode: bogus")):
        done = daemon.docker("run", "--rm", flag, value, "busybox", "true", check=False)
        assert done.returncode == 125 and message in done.stderr, done.stderr
    with pytest.raises(docker.errors.APIError) as err:  # docker-py refuses it itself
        client.api.create_container("busybox", "true", host_config={"UsernsMode": "x"})
    assert err.value.status_code == 400 and "invalid USER mode" in str(err.value)
    client.containers.create("busybox", "true", userns_mode="host").remove()


# ── inspect, docker-py ────────────────────────────────────────────────────────────────


def test_inspect_shows_the_options(daemon: Daemon, names: list[str]) -> None:
    name = _name(names)
    daemon.docker("create", "--name", name, "--cap-add", "net_admin", "--cap-drop", "CHOWN",
                  "--security-opt", "no-new-privileges", "--group-add", "audio",
                  "--sysctl", "net.ipv4.ip_forward=1", "--pid", "host", "--ipc", "shareable",
                  "--uts", "host", "--cgroupns", "host", "--userns", "host", "busybox")
    host = json.loads(daemon.docker("inspect", name).stdout)[0]["HostConfig"]
    # docker 28's CLI sends them normalised
    assert host["CapAdd"] == ["CAP_NET_ADMIN"] and host["CapDrop"] == ["CAP_CHOWN"]
    assert host["Privileged"] is False
    assert host["SecurityOpt"] == ["no-new-privileges", "label=disable"]
    assert host["GroupAdd"] == ["audio"] and host["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert (host["PidMode"], host["IpcMode"], host["UTSMode"], host["CgroupnsMode"],
            host["UsernsMode"]) == ("host", "shareable", "host", "host", "host")
    plain = _name(names)
    daemon.docker("create", "--name", plain, "busybox")
    host = json.loads(daemon.docker("inspect", plain).stdout)[0]["HostConfig"]
    assert (host["CapAdd"], host["CapDrop"], host["SecurityOpt"], host["GroupAdd"],
            host["Sysctls"]) == (None, None, None, None, None)
    assert (host["PidMode"], host["IpcMode"], host["CgroupnsMode"]) == (
        "", "private", "private")
    assert "/proc/kcore" in host["MaskedPaths"] and "/proc/sys" in host["ReadonlyPaths"]


def test_docker_py(client: docker.DockerClient) -> None:
    out = client.containers.run(
        "busybox", ["sh", "-c", "grep -E '^(CapBnd|NoNewPrivs|Seccomp):' /proc/self/status;"
                    " cat /proc/sys/net/ipv4/ip_forward; id -G"],
        cap_drop=["ALL"], cap_add=["NET_ADMIN"], security_opt=["no-new-privileges",
                                                                 "seccomp=unconfined"],
        sysctls={"net.ipv4.ip_forward": "1"}, group_add=["4242"], remove=True).decode()
    fields = dict(line.split(":\t") for line in out.splitlines()[:3])
    assert int(fields["CapBnd"], 16) == NET_ADMIN
    assert fields["NoNewPrivs"] == "1" and fields["Seccomp"] == "0"
    assert out.splitlines()[3:] == ["1", "0 10 4242"]  # root is in wheel (10)
    c = client.containers.create("busybox", "true", privileged=True, pid_mode="host")
    try:
        assert c.attrs["HostConfig"]["Privileged"] is True
        assert c.attrs["HostConfig"]["SecurityOpt"] == ["label=disable"]
        assert c.attrs["HostConfig"]["MaskedPaths"] is None
    finally:
        c.remove()


# ── the API socket ────────────────────────────────────────────────────────────────────


def test_socket_mode(daemon: Daemon) -> None:
    """root:root 0660 without a berth group (this host's usual case)."""
    st = os.stat(daemon.socket)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == 0
    try:
        expected = grp.getgrnam("berth").gr_gid
    except KeyError:
        expected = 0
    assert st.st_gid == expected


def test_socket_group_berth(tmp_path: Path) -> None:
    """With a berth group the socket is root:berth 0660; the group is made for the test
    and removed afterwards."""
    try:
        grp.getgrnam("berth")
        made = False
    except KeyError:
        subprocess.run(["groupadd", "--system", "berth"], check=True)
        made = True
    d = Daemon(tmp_path)
    try:
        d.start()
        st = os.stat(d.socket)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == 0
        assert st.st_gid == grp.getgrnam("berth").gr_gid
        assert "access to the API is equivalent to root access" in d.log()
    finally:
        d.cleanup()
        if made:
            subprocess.run(["groupdel", "berth"], check=True)


def test_berth_cli(daemon: Daemon, tmp_path: Path) -> None:
    """berth's own run: the same flags, the profile file read by the CLI."""
    profile = tmp_path / "nomkdir.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": '
                       '["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}')
    done = daemon.berth("run", "--rm", "--cap-drop", "all", "--cap-add", "net_admin",
                        "--security-opt", f"seccomp={profile}", "--security-opt",
                        "no-new-privileges", "--sysctl", "net.ipv4.ip_forward=1",
                        "busybox", "sh", "-c",
                        "grep -E '^(CapBnd|NoNewPrivs):' /proc/self/status; "
                        "cat /proc/sys/net/ipv4/ip_forward; mkdir /d", check=False)
    assert done.stdout.split() == ["CapBnd:", f"{NET_ADMIN:016x}", "NoNewPrivs:", "1", "1"]
    assert done.returncode == 1 and "Operation not permitted" in done.stderr
    refused = daemon.berth("run", "--rm", "--sysctl", "kernel.panic=1", "busybox", "true",
                           check=False)
    assert refused.returncode == 125 and "sysctl 'kernel.panic=1' is not allowed" in (
        refused.stderr)
