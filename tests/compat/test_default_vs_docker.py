"""A default container under berthd (native, runc, crun) against one under a real dockerd
with runc (Debian's docker.io 20.10 and its runc 1.1; the ``real_dockerd`` fixture):
capability sets, no_new_privs and seccomp mode (/proc/self/status), the mounts
(/proc/self/mountinfo) with the masked and read-only paths, and what the escape helper's
attempts answer in each (issue 13). Each difference that remains is in the list below with
its reason, and in docs/design/security.md ("Berth vs docker+runc: a default container")."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.compat.daemon import Daemon

RUNTIMES = ["native", "runc", "crun"]
SOURCE = Path(__file__).parent / "data" / "escape.c"

# Mounts whose options legitimately differ (see docs/design/security.md):
# the rootfs (docker's overlay is a slave of dockerd's mount tree, berth's is private in
# the shim's mount namespace), /etc/{hostname,hosts,resolv.conf} (files of each daemon's
# data root), the cgroup mounts (docker 20.10 on cgroup v1 keeps the host's cgroup
# namespace; berth makes a private one) and berth's lxcfs view of /proc and /sys.
OWN_MOUNTS = {"/", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}
# berth masks /proc/interrupts as docker 28 does; docker 20.10 does not yet.
BERTH_ONLY_MASKED = {"/proc/interrupts"}

PROBE = ("grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; echo ---; "
         "cat /proc/self/mountinfo; echo ---; "
         "for p in /proc/acpi /proc/asound /proc/interrupts /proc/kcore /proc/keys "
         "/proc/latency_stats /proc/sched_debug /proc/scsi /proc/timer_list /proc/timer_stats "
         "/sys/firmware /sys/devices/virtual/powercap; do "
         "if [ -d $p ]; then echo \"$p $(ls -A $p | wc -l) entries\"; "
         "elif [ -e $p ]; then echo \"$p $(cat $p 2>/dev/null | wc -c) bytes\"; fi; "
         "done; echo ---; cat /proc/self/attr/current 2>&1; true")

ATTEMPTS = ("mkdir -p /m; /e mount /m; /e module; /e write /proc/sys/net/ipv4/ip_default_ttl 63; "
            "/e write /proc/sys/kernel/hostname x; /e settime; /e settz; /e userns; "
            "/e mknodread /tmp/blk 7 0; /e openwr /proc/sysrq-trigger; /e read /dev/kmsg; "
            "/e fds 1")


@pytest.fixture(scope="module")
def escape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/compat/data/escape.c built static (as test_escapes.py does)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed (apt-get install gcc libc6-dev)")
    out = tmp_path_factory.mktemp("escape") / "escape"
    done = subprocess.run([gcc, "-static", "-O2", "-o", str(out), str(SOURCE)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def in_docker(dockerd: Any, *args: str) -> str:
    done = subprocess.run([*dockerd.cli, "run", "--rm", "--network", "none", *args],
                          capture_output=True, text=True, env=dockerd.env, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout


def in_berth(daemon: Daemon, runtime: str, *args: str) -> str:
    return daemon.docker("run", "--rm", "--network", "none", "--runtime", runtime,
                         *args).stdout


def sections(out: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for line in out.splitlines():
        if line == "---":
            parts.append([])
        else:
            parts[-1].append(line)
    return parts


def mounts(lines: list[str]) -> dict[str, tuple[str, str, str]]:
    """mountinfo as {mount point: (fs type, mount options, super options)}, without ids,
    sources and propagation tags."""
    table: dict[str, tuple[str, str, str]] = {}
    for line in lines:
        left, right = line.split(" - ")
        fields, (fstype, _source, superopts) = left.split(), right.split(" ", 2)
        table[fields[4]] = (fstype, fields[5], superopts)
    return table


def comparable(table: dict[str, tuple[str, str, str]]) -> dict[str, tuple[str, str, str]]:
    return {point: entry for point, entry in table.items()
            if point not in OWN_MOUNTS and entry[0] not in ("cgroup", "fuse.lxcfs")
            and point != "/sys/fs/cgroup"}


@pytest.fixture(scope="module")
def docker_probe(real_dockerd: Any) -> list[list[str]]:
    return sections(in_docker(real_dockerd, "busybox", "sh", "-c", PROBE))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_status_as_docker(daemon: Daemon, docker_probe: list[list[str]], runtime: str) -> None:
    """CapInh/Prm/Eff/Bnd/Amb, NoNewPrivs, Seccomp (mode 2, one filter): identical."""
    ours = sections(in_berth(daemon, runtime, "busybox", "sh", "-c", PROBE))
    assert ours[0] == docker_probe[0]
    assert "Seccomp:\t2" in ours[0] and "CapEff:\t00000000a80425fb" in ours[0]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mounts_as_docker(daemon: Daemon, docker_probe: list[list[str]], runtime: str) -> None:
    """Every mount but the ones each daemon makes of its own (rootfs, /etc files, cgroups,
    lxcfs) has the same type and options: /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue,
    /sys read-only, the read-only /proc binds and the masks."""
    ours = sections(in_berth(daemon, runtime, "busybox", "sh", "-c", PROBE))
    theirs, mine = comparable(mounts(docker_probe[1])), comparable(mounts(ours[1]))
    # the cgroup hierarchies: read-only in both; berth's show the container's own cgroup at /
    for point, (fstype, opts, _) in mounts(ours[1]).items():
        if fstype == "cgroup":
            assert opts.startswith("ro,"), point
    roots = {line.split()[3] for line in ours[1] if " - cgroup " in line}
    assert roots == {"/"}, "a private cgroup namespace"
    extra = {p: mine.pop(p) for p in BERTH_ONLY_MASKED if p in mine and p not in theirs}
    assert set(extra) == BERTH_ONLY_MASKED & {line.split()[0] for line in ours[2]}
    if runtime == "crun":
        # crun makes the same mounts its own way: the read-only /proc binds without
        # nosuid,nodev,noexec, masked files bound from the host's /dev/null (devtmpfs),
        # masked directories an empty tmpfs mounted rw,size=0k then made read-only
        assert set(mine) == set(theirs)
        for point, (fstype, opts, _) in mine.items():
            assert fstype == theirs[point][0] or point in ("/proc/keys", "/proc/timer_list"), (
                point, fstype)
            assert opts.split(",")[0] == theirs[point][1].split(",")[0] or (
                opts.startswith("ro,") and fstype == "devtmpfs"), (point, opts)
        return
    assert mine == theirs
    for point, (fstype, opts, _) in extra.items():
        assert fstype == "tmpfs" and opts.startswith("rw,nosuid"), (point, fstype, opts)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_masked_paths_as_docker(daemon: Daemon, docker_probe: list[list[str]],
                                runtime: str) -> None:
    """What a masked path shows (entries of a directory, bytes of a file): nothing, in
    both; berth's /proc/interrupts is masked too."""
    ours = sections(in_berth(daemon, runtime, "busybox", "sh", "-c", PROBE))
    theirs = {line.split()[0]: line for line in docker_probe[2]}
    mine = {line.split()[0]: line for line in ours[2]}
    assert set(mine) == set(theirs)
    for path, line in mine.items():
        if path in BERTH_ONLY_MASKED:
            assert line == f"{path} 0 bytes", "masked in berth"
            assert theirs[path] != line, "not yet masked by docker 20.10"
        else:
            assert line == theirs[path] and line.split()[1] == "0", (line, theirs[path])
    assert ours[3] == docker_probe[3], "no LSM label in either (no AppArmor/SELinux here)"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_escape_attempts_answer_as_under_docker(daemon: Daemon, real_dockerd: Any,
                                                escape: Path, runtime: str) -> None:
    """The default attempts of test_escapes.py get the same errno under both daemons: the
    same filter, capabilities, read-only paths and device cgroup in the way."""
    args = ("-v", f"{escape}:/e:ro", "busybox", "sh", "-c", ATTEMPTS)
    theirs = in_docker(real_dockerd, *args).splitlines()
    ours = in_berth(daemon, runtime, *args).splitlines()
    pipes = [line.split()[0] for line in ours[-3:]], [line.split()[0] for line in theirs[-3:]]
    assert pipes[0] == pipes[1] == ["0", "1", "2"]
    assert ours[:-3] == theirs[:-3]
    assert ours[:9] == ["ERR EPERM", "ERR EPERM", "ERR EROFS", "ERR EROFS", "ERR EPERM",
                        "ERR EPERM", "ERR EPERM", "ERR EPERM", "ERR ENOENT"], ours
