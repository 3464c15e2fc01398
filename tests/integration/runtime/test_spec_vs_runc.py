"""The runtime spec, bundle by bundle: each bundle runs under runc and under
``berth-runtime`` (the CLI, through the same create/start/delete flow) and what can be
observed must agree. Where runc 1.1 itself differs from the runtime-spec or lacks a
feature the kernel has, the test says so and checks berth-runtime's own behaviour.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.integration.runtime.spec_flow import BERTH, RUNC, Flow, Outcome

CGROUP = Path("/sys/fs/cgroup")

pytestmark = pytest.mark.skipif(not shutil.which(RUNC), reason="runc not installed")


@pytest.fixture
def runc(tmp_path: Path) -> Flow:
    return Flow("runc", [RUNC], tmp_path)


@pytest.fixture
def berth(tmp_path: Path) -> Flow:
    return Flow("berth", BERTH, tmp_path)


@pytest.fixture
def both(runc: Flow, berth: Flow, make_spec):
    """both(args, edit, inspect) → (runc's Outcome, berth-runtime's Outcome); each gets
    its own copy of the spec (and its own cgroupsPath when the spec has one)."""

    def run(args: list[str], edit=None, inspect=None) -> tuple[Outcome, Outcome]:
        results = []
        for flow in (runc, berth):
            spec = make_spec(args)
            if "cgroupsPath" in spec["linux"]:
                spec["linux"]["cgroupsPath"] += f"-{flow.name}"
            if edit is not None:
                edit(spec)
            results.append(flow.run(spec, inspect))
        return results[0], results[1]

    return run


def _ok(*outcomes: Outcome) -> None:
    for o in outcomes:
        assert o.create_rc == 0, o.create_err
        assert "Traceback" not in o.create_err + o.stderr


def _without(spec: dict[str, Any], kind: str) -> None:
    spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"]
                                   if ns["type"] != kind]


# --- cgroups ---------------------------------------------------------------------------

def _cgroup_of(pid: int, controller: str) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controller in controllers.split(","):
                return path
    raise AssertionError(f"no {controller} cgroup for {pid}")


def _pids_limit(pid: int, spec: dict[str, Any]) -> dict[str, Any]:
    path = _cgroup_of(pid, "pids")
    return {"path": path, "max": (CGROUP / "pids" / path.lstrip("/") / "pids.max")
            .read_text().strip()}


def test_no_cgroups_path_still_gets_a_cgroup_with_limits(both):
    def edit(spec):
        del spec["linux"]["cgroupsPath"]
        _without(spec, "cgroup")
        spec["linux"]["resources"] = {"pids": {"limit": 23}}

    theirs, ours = both(["true"], edit, _pids_limit)
    _ok(theirs, ours)
    # runc's default: the container id, below the caller's own cgroup (the root here).
    assert theirs.seen == {"path": f"/{theirs.cid}", "max": "23"}
    assert ours.seen == {"path": f"/{ours.cid}", "max": "23"}
    assert not (CGROUP / "pids" / ours.cid).exists()  # delete removed it


@pytest.fixture
def relative_parent():
    """A parent for relative cgroup paths, removed below the caller's own cgroup of every
    hierarchy afterwards (runc removes only the leaf)."""
    parent = f"berth-spec-rel-{uuid.uuid4().hex[:8]}"
    yield parent
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, own = line.rstrip("\n").split(":", 2)
            name = controllers.removeprefix("name=") or "unified"
            for base in {own.lstrip("/"), ""}:  # berth falls back to the root (see doc)
                with contextlib.suppress(OSError):
                    (CGROUP / name / base / parent).rmdir()


def test_relative_cgroups_path_is_below_the_callers_cgroup(both, relative_parent):
    def edit(spec):
        name = spec["linux"]["cgroupsPath"].rsplit("/", 1)[-1]
        spec["linux"]["cgroupsPath"] = f"{relative_parent}/{name}"
        _without(spec, "cgroup")
        spec["linux"]["resources"] = {"pids": {"limit": 17}}

    def inspect(pid, spec):
        return _pids_limit(pid, spec) | {"asked": spec["linux"]["cgroupsPath"]}

    theirs, ours = both(["true"], edit, inspect)
    _ok(theirs, ours)
    own = _cgroup_of(os.getpid(), "pids").rstrip("/")
    for outcome in (theirs, ours):
        assert outcome.seen["max"] == "17"
        assert outcome.seen["path"] == f"{own}/{outcome.seen['asked']}"


def _device_rules(pid: int, spec: dict[str, Any]) -> dict[str, Any]:
    path = _cgroup_of(pid, "devices")
    rules = (CGROUP / "devices" / path.lstrip("/") / "devices.list").read_text().split("\n")
    return {"rules": sorted(filter(None, rules))}


@pytest.mark.parametrize("rules", [
    None,
    [{"allow": False, "access": "rwm"},
     {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
    [{"allow": True, "access": "rwm"}],
], ids=["default", "deny-all-plus-fuse", "allow-all"])
def test_device_cgroup_rules_as_runc(both, rules):
    def edit(spec):
        _without(spec, "cgroup")
        spec["linux"]["resources"] = {} if rules is None else {"devices": rules}

    theirs, ours = both(["true"], edit, _device_rules)
    _ok(theirs, ours)
    assert ours.seen == theirs.seen


# --- user namespaces and users -------------------------------------------------------

@pytest.fixture
def open_rootfs(busybox_rootfs: Path):
    """A copy of the rootfs below a directory the mapped root may traverse (pytest's
    temporary directories are 0700 root)."""
    top = Path(tempfile.mkdtemp(prefix="berth-userns-"))
    try:
        os.chmod(top, 0o755)
        shutil.copytree(busybox_rootfs, top / "rootfs", symlinks=True)
        yield top / "rootfs"
    finally:
        shutil.rmtree(top)


def _userns(spec: dict[str, Any], host: int = 100000) -> None:
    spec["linux"]["namespaces"].append({"type": "user"})
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]


def _host_ids(pid: int, spec: dict[str, Any]) -> dict[str, Any]:
    with open(f"/proc/{pid}/status") as f:
        ids = {line.split(":")[0] + ":": line.split()[1:] for line in f
               if line.startswith(("Uid:", "Gid:"))}
    with open(f"/proc/{pid}/uid_map") as f:
        ids["uid_map"] = f.read().split()
    return ids


USERNS_PROBE = ("id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups;"
                " grep CapEff /proc/self/status; ls -n /dev/null | cut -c1-10;"
                " echo x > /dev/null && echo devnull-ok; hostname")


def test_user_namespace_maps_root_to_an_unprivileged_range(both, open_rootfs):
    def edit(spec):
        _userns(spec)
        spec["root"]["path"] = str(open_rootfs)

    theirs, ours = both(["sh", "-c", USERNS_PROBE], edit, _host_ids)
    _ok(theirs, ours)
    assert ours.output == theirs.output
    assert ours.output.startswith("uid=0(root) gid=0(root)\n")
    assert "0     100000      65536" in ours.output
    assert ours.seen == theirs.seen
    assert ours.seen["Uid:"] == ["100000"] * 4  # the host sees the mapped uid


def test_user_namespace_with_a_non_root_user(both, open_rootfs):
    def edit(spec):
        _userns(spec, 200000)
        spec["root"]["path"] = str(open_rootfs)
        spec["process"]["user"] = {"uid": 1000, "gid": 1000}
        spec["process"]["capabilities"] = {}
        spec["process"]["env"] = ["PATH=/bin"]

    theirs, ours = both(["sh", "-c", "id; echo $HOME; touch /tmp/f && stat -c %u /tmp/f"],
                        edit, _host_ids)
    _ok(theirs, ours)
    assert ours.output == theirs.output == "uid=1000(user) gid=1000(user)\n/home/user\n1000\n"
    assert ours.seen == theirs.seen
    assert ours.seen["Uid:"] == ["201000"] * 4


def test_oom_score_adj_in_a_user_namespace(both, open_rootfs):
    def edit(spec):
        _userns(spec)
        spec["root"]["path"] = str(open_rootfs)
        spec["process"]["oomScoreAdj"] = 321

    theirs, ours = both(["cat", "/proc/self/oom_score_adj"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output == "321\n"


@pytest.mark.parametrize("user", [{"uid": 1000, "gid": 1000},
                                  {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]},
                                  {"uid": 1000, "gid": 1000, "umask": 0o077}])
def test_non_root_user_without_capabilities_runs(both, user, busybox_rootfs):
    def edit(spec):
        spec["process"]["user"] = user
        spec["process"]["capabilities"] = {}
        spec["process"]["noNewPrivileges"] = True

    theirs, ours = both(["sh", "-c", "id; echo hi > /tmp/f; ls -n /tmp/f | cut -c1-10;"
                         " cat /tmp/f"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output
    assert "hi\n" in ours.output


@pytest.mark.parametrize("env, user, home", [
    (["PATH=/bin"], {"uid": 0, "gid": 0}, "/root"),
    (["PATH=/bin"], {"uid": 1000, "gid": 1000}, "/home/user"),
    (["PATH=/bin"], {"uid": 4242, "gid": 4242}, "/"),
    (["PATH=/bin", "HOME=/custom"], {"uid": 1000, "gid": 1000}, "/custom"),
])
def test_home_from_the_users_passwd_entry(both, env, user, home):
    def edit(spec):
        spec["process"]["env"] = env
        spec["process"]["user"] = user

    theirs, ours = both(["sh", "-c", "echo $HOME"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output == home + "\n"


def test_missing_cwd_is_created(both):
    def edit(spec):
        spec["process"]["cwd"] = "/work/deep/dir"
        spec["process"]["user"] = {"uid": 1000, "gid": 1000}

    theirs, ours = both(["sh", "-c", "pwd; stat -c '%a %u' /work/deep/dir"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output == "/work/deep/dir\n755 0\n"


# --- sysctl, network ------------------------------------------------------------------

def test_sysctls_are_applied(both):
    def edit(spec):
        spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345",
                                   "kernel.domainname": "example.org",
                                   "fs.mqueue.msg_max": "33"}

    theirs, ours = both(["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax",
                         "/proc/sys/kernel/domainname", "/proc/sys/fs/mqueue/msg_max"],
                        edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output == "1\n12345\nexample.org\n33\n"


@pytest.mark.parametrize("key, drop", [
    ("kernel.foo", None), ("vm.swappiness", None), ("kernel.hostname", None),
    ("net.ipv4.ip_forward", "network"), ("kernel.shmmax", "ipc"),
])
def test_bad_sysctls_are_refused_as_runc(both, key, drop):
    def edit(spec):
        spec["linux"]["sysctl"] = {key: "1"}
        if drop:
            _without(spec, drop)

    theirs, ours = both(["true"], edit)
    assert theirs.create_rc == ours.create_rc == 1
    assert theirs.message.removeprefix("runc create failed: ") in ours.message


def test_a_sysctl_the_kernel_lacks_fails_create(both):
    theirs, ours = both(["true"], lambda s: s["linux"].update(
        sysctl={"net.ipv4.nosuch": "1"}))
    assert theirs.create_rc == ours.create_rc == 1
    assert "/proc/sys/net/ipv4/nosuch" in ours.message
    assert "Traceback" not in ours.create_err


def test_loopback_is_up_in_a_new_network_namespace(both):
    theirs, ours = both(["sh", "-c", "cat /sys/class/net/lo/operstate;"
                         " ip -o link show lo | grep -o 'LOOPBACK,UP'; ping -c1 -W1 127.0.0.1"
                         " >/dev/null && echo ping-ok"])
    _ok(theirs, ours)
    assert ours.output == theirs.output == "unknown\nLOOPBACK,UP\nping-ok\n"


# --- mounts and devices ---------------------------------------------------------------

@pytest.mark.parametrize("options, expected", [
    (["mode=1777"], "1777"), (["mode=700", "size=1m"], "700"), (["mode=0755", "ro"], "755"),
])
def test_tmpfs_mode(both, options, expected):
    def edit(spec):
        spec["mounts"].append({"destination": "/scratch/sub", "type": "tmpfs",
                               "source": "tmpfs", "options": options})

    theirs, ours = both(["stat", "-c", "%a", "/scratch/sub"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output == expected + "\n"


def test_tmpfs_over_an_existing_directory_keeps_its_mode(both, busybox_rootfs):
    (busybox_rootfs / "kept").mkdir(mode=0o711)
    os.chmod(busybox_rootfs / "kept", 0o711)

    def edit(spec):
        spec["mounts"].append({"destination": "/kept", "type": "tmpfs", "source": "tmpfs"})

    theirs, ours = both(["stat", "-c", "%a", "/kept"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output == "711\n"
    # (With an explicit mode= runc 1.1.5 still chmods to the directory's mode; berth
    # keeps the mode asked for, as later runc releases do.)


def test_tmpfs_copy_up(both, busybox_rootfs):
    (busybox_rootfs / "seeded/sub").mkdir(parents=True)
    (busybox_rootfs / "seeded/sub/file").write_text("kept\n")
    os.chmod(busybox_rootfs / "seeded", 0o750)

    def edit(spec):
        spec["mounts"].append({"destination": "/seeded", "type": "tmpfs", "source": "tmpfs",
                               "options": ["tmpcopyup"]})

    theirs, ours = both(["sh", "-c", "cat /seeded/sub/file; stat -c %a /seeded;"
                         " grep -c ' /seeded .* tmpfs ' /proc/self/mountinfo"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output == "kept\n750\n1\n"
    assert (busybox_rootfs / "seeded/sub/file").read_text() == "kept\n"


@pytest.mark.parametrize("options", [["rbind", "rro"], ["rbind", "rro", "rrw"],
                                     ["rbind", "rnoatime", "rnosuid", "rnodev"],
                                     ["rbind", "ro", "rnoexec"]])
def test_recursive_mount_options(both, tmp_path, options):
    source = tmp_path / "recursive"
    (source / "sub").mkdir(parents=True)

    def edit(spec):
        spec["mounts"].append({"destination": "/r", "type": "bind", "source": str(source),
                               "options": options})

    theirs, ours = both(["sh", "-c", "grep ' /r ' /proc/self/mountinfo | cut -d' ' -f6;"
                         " touch /r/x 2>/dev/null && echo writable"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output


DEVICES = [
    {"path": "/dev/myfifo", "type": "p", "fileMode": 0o620, "uid": 1000, "gid": 1000},
    {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600,
     "uid": 1000, "gid": 10},
    {"path": "/dev/sub/myzero", "type": "c", "major": 1, "minor": 5},
    {"path": "/dev/myloop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o640},
]


def test_linux_devices(both):
    def edit(spec):
        spec["linux"]["devices"] = DEVICES

    theirs, ours = both(["sh", "-c", "stat -c '%n %F %a %u %g %t:%T' /dev/myfifo /dev/mynull"
                         " /dev/sub/myzero /dev/myloop; head -c2 /dev/sub/myzero | wc -c"],
                        edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output
    assert "/dev/myfifo fifo 620 1000 1000" in ours.output


# (runc 1.1 cannot run "unbindable"/"runbindable": its rootfs bind then fails EINVAL.)
@pytest.mark.parametrize("propagation", [None, "shared", "rshared", "slave", "rslave",
                                         "private", "rprivate"])
def test_rootfs_propagation(both, propagation):
    def edit(spec):
        if propagation:
            spec["linux"]["rootfsPropagation"] = propagation

    theirs, ours = both(["sh", "-c", "awk '$5 == \"/\" {for (i = 7; $i != \"-\"; i++)"
                         " print $i}' /proc/self/mountinfo | sed 's/:.*//'"], edit)
    _ok(theirs, ours)
    assert ours.output == theirs.output


# --- hooks ----------------------------------------------------------------------------

HOOK_SCRIPT = """#!/bin/sh
state=$(cat)
echo "$1 mnt=$(readlink /proc/self/ns/mnt) uid=$(id -u) env=$HOOK_ENV cwd=$(pwd)\
 state=$state" >> "$2"
exit ${3:-0}
"""
KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop")


@pytest.fixture
def hooked(tmp_path: Path, busybox_rootfs: Path):
    """edit(spec, fail=kind, timeout=kind) adds one marker hook of every kind; the log of
    each runtime's run is read with log(name)."""
    (tmp_path / "hook.sh").write_text(HOOK_SCRIPT)
    os.chmod(tmp_path / "hook.sh", 0o755)
    shutil.copy(tmp_path / "hook.sh", busybox_rootfs / "hook.sh")
    logs = tmp_path / "hooklogs"
    logs.mkdir()
    os.chmod(logs, 0o777)

    def editor(fail: str | None = None, timeout: str | None = None):
        def edit(spec):
            log = f"/hooklogs/{spec['linux'].get('cgroupsPath', 'x').rsplit('-', 1)[-1]}"
            spec["mounts"].append({"destination": "/hooklogs", "type": "bind",
                                   "source": str(logs), "options": ["rbind"]})
            spec["hooks"] = {}
            for kind in KINDS:
                # Before pivot_root (and in the runtime's namespaces) the host paths
                # serve; startContainer runs in the container's root.
                inside = kind == "startContainer"
                spec["hooks"][kind] = [{
                    "path": "/hook.sh" if inside else str(tmp_path / "hook.sh"),
                    "args": ["hook.sh", kind, log if inside else str(tmp_path) + log,
                             "3" if kind == fail else "0"],
                    "env": ["HOOK_ENV=set", "PATH=/bin:/usr/bin"],
                }]
                if kind == timeout:
                    spec["hooks"][kind] = [{"path": "/bin/sleep", "args": ["sleep", "5"],
                                            "timeout": 1}]
        return edit

    def log(name: str) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        path = logs / name
        if not path.exists():
            return []
        entries = []
        for line in path.read_text().splitlines():
            head, _, state = line.partition(" state=")
            kind, *fields = head.split()
            entries.append((kind, dict(f.split("=", 1) for f in fields), json.loads(state)))
        return entries

    return editor, log


def test_every_hook_runs_with_its_state(both, hooked, busybox_rootfs):
    edit, log = hooked
    theirs, ours = both(["true"], edit())
    _ok(theirs, ours)
    host_mnt = os.readlink("/proc/self/ns/mnt")
    runs = {flow: {kind: (fields, state) for kind, fields, state in log(flow)}
            for flow in ("runc", "berth")}
    assert set(runs["berth"]) == set(runs["runc"]) == set(KINDS)
    for flow, outcome in (("runc", theirs), ("berth", ours)):
        for kind, (fields, state) in runs[flow].items():
            assert fields["env"] == "set", (flow, kind)  # exactly the hook's env
            in_container = kind in ("createContainer", "startContainer")
            assert (fields["mnt"] != host_mnt) == in_container, (flow, kind)
            assert state["id"] == outcome.cid
            assert state["bundle"].endswith(outcome.cid.rsplit("-", 1)[-1]) or state["bundle"]
        cwds = {kind: fields["cwd"] for kind, (fields, _) in runs[flow].items()}
        bundle = runs[flow]["prestart"][1]["bundle"]
        assert cwds["prestart"] == cwds["createRuntime"] == cwds["poststart"] == bundle
        assert cwds["createContainer"] == str(busybox_rootfs)
        assert cwds["startContainer"] == "/"
        states = {kind: state for kind, (_, state) in runs[flow].items()}
        assert states["prestart"]["status"] == states["createRuntime"]["status"] == "creating"
        assert states["createContainer"]["pid"] == 1  # getpid() in the container
        assert states["startContainer"]["status"] == "created"
        assert states["poststop"]["status"] == "stopped" and "pid" not in states["poststop"]
        assert states["prestart"]["pid"] == states["createRuntime"]["pid"] > 1
    # Order: runc 1.1 runs poststart at create, before startContainer; berth-runtime at
    # start, after it, as the runtime-spec asks.
    order = [kind for kind, _, _ in log("berth")]
    assert order == list(KINDS)
    assert [kind for kind, _, _ in log("runc")] == [
        "prestart", "createRuntime", "createContainer", "poststart", "startContainer",
        "poststop"]


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_a_failing_creation_hook_fails_create_as_runc(both, berth, hooked, kind):
    edit, log = hooked
    theirs, ours = both(["true"], edit(fail=kind))
    assert theirs.create_rc == ours.create_rc == 1
    expected = "error running hook #0: error running hook: exit status 3, stdout: , stderr: "
    assert expected in theirs.message and expected in ours.message
    ran = (*KINDS[:KINDS.index(kind) + 1], "poststop")  # runc's destroy runs poststop
    assert [k for k, _, _ in log("berth")] == [k for k, _, _ in log("runc")] == list(ran)
    assert not (berth.root / ours.cid).exists()  # nothing left behind


def test_a_hook_past_its_timeout_fails_create(both, hooked):
    edit, _log = hooked
    theirs, ours = both(["true"], edit(timeout="prestart"))
    assert theirs.create_rc == ours.create_rc == 1
    expected = "error running hook #0: hook ran past specified timeout of 1.0s"
    assert expected in theirs.message and expected in ours.message


@pytest.mark.parametrize("kind", ["poststart", "poststop"])
def test_failing_poststart_and_poststop_only_warn(berth, hooked, make_spec, kind):
    """runtime-spec: a warning, the lifecycle goes on (runc 1.1 fails create on a
    failing poststart instead)."""
    edit, log = hooked
    spec = make_spec(["echo", "ran"])
    spec["linux"]["cgroupsPath"] += "-berth"
    edit(fail=kind)(spec)
    ours = berth.run(spec)
    _ok(ours)
    assert ours.output == "ran\n"
    assert [k for k, _, _ in log("berth")] == list(KINDS)


def test_a_failing_start_container_hook_never_execs(berth, hooked, make_spec):
    edit, _log = hooked
    spec = make_spec(["echo", "ran"])
    spec["linux"]["cgroupsPath"] += "-berth"
    edit(fail="startContainer")(spec)
    ours = berth.run(spec)
    assert ours.output == ""
    assert "startContainer: error running hook #0" in ours.stderr


# --- kernel features runc 1.1 lacks ---------------------------------------------------

@pytest.mark.skipif(not os.path.exists("/proc/self/ns/time"), reason="no time namespaces")
def test_time_namespace_with_offsets(both):
    def edit(spec):
        spec["linux"]["namespaces"].append({"type": "time"})
        spec["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0},
                                        "monotonic": {"secs": 3600}}

    theirs, ours = both(["cut", "-d.", "-f1", "/proc/uptime"], edit)
    # runc 1.1 has no time namespace (runc 1.2 does): it refuses the bundle.
    assert theirs.create_rc == 1
    assert 'namespace {"time" ""} does not exist' in theirs.message
    _ok(ours)
    with open("/proc/uptime") as f:
        host_uptime = int(float(f.read().split()[0]))
    assert int(ours.output) - host_uptime >= 86400 * 365 - 60


def test_memory_policy(berth, make_spec):
    """runc 1.1 ignores linux.memoryPolicy (runc 1.3 applies it): berth-runtime sets it."""
    spec = make_spec(["sh", "-c", "grep -m1 -o 'bind:0' /proc/self/numa_maps"])
    spec["linux"]["cgroupsPath"] += "-berth"
    spec["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    ours = berth.run(spec)
    _ok(ours)
    assert ours.output == "bind:0\n"


@pytest.mark.parametrize("policy, words", [
    ({"mode": "MPOL_BIND", "nodes": "63"}, "error setting memory policy: set_mempolicy "
                                           "MPOL_BIND nodes '63': invalid argument"),
    ({"mode": "MPOL_BIND", "nodes": "x"}, "error setting memory policy: invalid memory "
                                          "policy nodes 'x'"),
    ({"mode": "MPOL_NOPE"}, "invalid memory policy mode 'MPOL_NOPE'"),
])
def test_memory_policy_the_kernel_refuses(berth, make_spec, policy, words):
    spec = make_spec(["true"])
    spec["linux"]["cgroupsPath"] += "-berth"
    spec["linux"]["memoryPolicy"] = policy
    ours = berth.run(spec)
    assert ours.create_rc == 1
    assert words in ours.message and "Traceback" not in ours.create_err


def test_intel_rdt_without_resctrl(both):
    theirs, ours = both(["true"], lambda s: s["linux"].update(
        intelRdt={"l3CacheSchema": "L3:0=ff"}))
    assert theirs.create_rc == ours.create_rc == 1
    assert ours.message.endswith(theirs.message.removeprefix("runc create failed: "))


# --- invalid bundles ------------------------------------------------------------------

INVALID = {
    "no process": (lambda s: s.pop("process"), "process property must not be empty"),
    "no root": (lambda s: s.pop("root"), "root must be specified"),
    "root missing": (lambda s: s["root"].update(path="/nonexistent"),
                     "invalid rootfs: stat /nonexistent: no such file or directory"),
    "no linux": (lambda s: s.pop("linux"), None),
    "bad mount type": (lambda s: s["mounts"].append(
        {"destination": "/x", "type": "nosuchfs", "source": "none"}),
        'error mounting "none" to rootfs at "/x"'),
    "unknown namespace": (lambda s: s["linux"]["namespaces"].append({"type": "bogus"}),
                          'namespace {"bogus" ""} does not exist'),
    "duplicated namespace": (lambda s: s["linux"]["namespaces"].append({"type": "pid"}),
                             'malformed spec file: duplicated ns {"pid" ""}'),
    "namespace path missing": (lambda s: s["linux"]["namespaces"].__setitem__(
        1, {"type": "network", "path": "/nonexistent"}),
        "namespace path: lstat /nonexistent: no such file or directory"),
    "empty args": (lambda s: s["process"].update(args=[]), "args must not be empty"),
    "relative cwd": (lambda s: s["process"].update(cwd="tmp"),
                     "Cwd must be an absolute path"),
    "bad rlimit": (lambda s: s["process"].update(
        rlimits=[{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
        "wrong rlimit value: RLIMIT_BOGUS"),
    "userns without maps": (lambda s: s["linux"]["namespaces"].append({"type": "user"}),
                            "User namespaces enabled, but no uid mappings found."),
    "bad propagation": (lambda s: s["linux"].update(rootfsPropagation="bogus"),
                        "rootfsPropagation=bogus is not supported"),
    "bad device type": (lambda s: s["linux"].update(
        devices=[{"path": "/dev/foo", "type": "z", "major": 1, "minor": 3}]),
        'invalid device type "z"'),
    "hostname without uts": (lambda s: _without(s, "uts"),
                             "unable to set hostname without a private UTS namespace"),
    "bad sysctl value": (lambda s: s["linux"].update(sysctl={"kernel.shmmax": "abc"}),
                         "/proc/sys/kernel/shmmax"),
    "relative hook path": (lambda s: s.update(hooks={"prestart": [{"path": "true"}]}),
                           "error running hook #0: fork/exec true"),
    "hook without path": (lambda s: s.update(hooks={"prestart": [{"args": ["true"]}]}),
                          "error running hook #0: exec: no command"),
    # Wrong JSON types: runc's decoder words.
    "namespaces a string": (lambda s: s["linux"].update(namespaces="pid"),
                            "json: cannot unmarshal string into Go struct field "
                            "Linux.linux.namespaces of type []specs.LinuxNamespace"),
    "args a string": (lambda s: s["process"].update(args="sh"),
                      "json: cannot unmarshal string into Go struct field "
                      "Process.process.args of type []string"),
    "mounts an object": (lambda s: s.update(mounts={"a": 1}),
                         "json: cannot unmarshal object into Go struct field Spec.mounts "
                         "of type []specs.Mount"),
    "pids limit a string": (lambda s: s["linux"].update(resources={"pids": {"limit": "x"}}),
                            "json: cannot unmarshal string into Go struct field "
                            "LinuxPids.linux.resources.pids.limit of type int64"),
    "uid a string": (lambda s: s["process"].update(user={"uid": "x", "gid": 0}),
                     "json: cannot unmarshal string into Go struct field "
                     "User.process.user.uid of type uint32"),
    "hooks a list": (lambda s: s.update(hooks=[1]),
                     "json: cannot unmarshal array into Go struct field Spec.hooks of type "
                     "specs.Hooks"),
    "memory limit a string": (lambda s: s["linux"].update(
        resources={"memory": {"limit": "x"}}),
        "json: cannot unmarshal string into Go struct field "
        "LinuxMemory.linux.resources.memory.limit of type int64"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_bundle_fails_clearly_as_runc(both, case):
    edit, words = INVALID[case]
    theirs, ours = both(["true"], edit)
    assert theirs.create_rc == 1 and ours.create_rc == 1
    assert "Traceback" not in ours.create_err
    assert "KeyError" not in ours.create_err
    if words is not None:
        assert words in theirs.message
        assert words in ours.message
    assert ours.message.strip()


def test_missing_config_json_fails_clearly(berth, tmp_path):
    (tmp_path / "empty").mkdir()
    result = berth.cli("create", "--bundle", str(tmp_path / "empty"), "berth-spec-nocfg")
    assert result.returncode == 1
    assert "config.json" in result.stderr and "Traceback" not in result.stderr


# --- a rootless-style bundle as `runc spec --rootless` writes it --------------------------

# The mount points, sorted; runc also binds the name=systemd hierarchy (berth's cgroup
# manager does not create a cgroup there) and leaves the /sys/fs/cgroup tmpfs writable.
ROOTLESS_PROBE = ("id; cat /proc/self/uid_map; ls /sys/fs/cgroup | head -3; ulimit -n;"
                  " cat /proc/self/setgroups; awk '{print $5}' /proc/self/mountinfo |"
                  " grep -v systemd | sort")


def test_rootless_spec_bundle(runc, berth, open_rootfs, tmp_path):
    generated = tmp_path / "generated"
    generated.mkdir()
    subprocess.run([RUNC, "spec", "--rootless", "--bundle", str(generated)], check=True)
    outcomes = []
    for flow in (runc, berth):
        spec = json.loads((generated / "config.json").read_text())
        spec["process"].update(terminal=False, args=["sh", "-c", ROOTLESS_PROBE])
        spec["root"]["path"] = str(open_rootfs)
        spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]
        spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]
        outcomes.append(flow.run(spec))
    theirs, ours = outcomes
    _ok(theirs, ours)
    assert ours.output == theirs.output
    assert ours.output.startswith("uid=0(root) gid=0(root)\n         0     300000      65536\n")


@pytest.mark.parametrize("hard, words", [
    (512, None),
    (10_000_000, "error setting rlimit type 7: operation not permitted"),
])
def test_rlimits_as_runc(both, hard, words):
    def edit(spec):
        spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": hard}]

    theirs, ours = both(["sh", "-c", "ulimit -n; ulimit -Hn"], edit)
    if words is None:
        _ok(theirs, ours)
        assert ours.output == theirs.output == f"256\n{hard}\n"
    else:
        assert theirs.create_rc == ours.create_rc == 1
        assert words in theirs.message and words in ours.message
