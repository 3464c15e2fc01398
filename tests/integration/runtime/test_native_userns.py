"""NativeRuntime in-process with a user namespace and hooks: exec joins the container's
user namespace as its root, the exec fifo of a non-root init, HOME in an exec."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from tests.integration.runtime.test_native_exec import _exec_process, _run_exec, _start_sleeper


@pytest.fixture
def open_rootfs(busybox_rootfs: Path):
    top = Path(tempfile.mkdtemp(prefix="berth-userns-"))
    try:
        os.chmod(top, 0o755)
        shutil.copytree(busybox_rootfs, top / "rootfs", symlinks=True)
        yield top / "rootfs"
    finally:
        shutil.rmtree(top)


def _userns_spec(make_spec, rootfs: Path, args: list[str]):
    spec = make_spec(args)
    spec["root"]["path"] = str(rootfs)
    spec["linux"]["namespaces"].append({"type": "user"})
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 110000, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 110000, "size": 65536}]
    return spec


def test_exec_joins_the_user_namespace(runner, make_spec, open_rootfs):
    cid, init_pid = _start_sleeper(runner, _userns_spec(make_spec, open_rootfs,
                                                        ["sleep", "100"]))
    code, output = _run_exec(runner, cid, _exec_process(
        ["sh", "-c", "id; cat /proc/self/uid_map; echo $HOME"], env=["PATH=/bin"]))
    assert code == 0, output
    assert output == "uid=0(root) gid=0(root)\n         0     110000      65536\n/root\n"
    with open(f"/proc/{init_pid}/status") as f:
        assert "Uid:\t110000\t110000\t110000\t110000" in f.read()


def test_exec_as_a_mapped_non_root_user(runner, make_spec, open_rootfs):
    cid, _ = _start_sleeper(runner, _userns_spec(make_spec, open_rootfs, ["sleep", "100"]))
    code, output = _run_exec(runner, cid, _exec_process(
        ["sh", "-c", "id -u; echo $HOME; grep Uid /proc/self/status"],
        user={"uid": 1000, "gid": 1000}, env=["PATH=/bin"], capabilities={}))
    assert code == 0, output
    assert output.splitlines() == ["1000", "/home/user", "Uid:\t1000\t1000\t1000\t1000"]


def test_non_root_init_without_capabilities_reaches_exec(runner, make_spec):
    """The exec fifo is 0622 whatever the umask: a uid 1000 init with no capabilities
    (no CAP_DAC_OVERRIDE) can still open it."""
    spec = make_spec(["sh", "-c", "id -u; grep CapEff /proc/self/status"])
    spec["process"]["user"] = {"uid": 1000, "gid": 1000}
    spec["process"]["capabilities"] = {}
    old = os.umask(0o077)
    try:
        result = runner.run(spec)
    finally:
        os.umask(old)
    assert result.status == 0, result.stderr
    assert result.stdout == "1000\nCapEff:\t0000000000000000\n"


@pytest.mark.skipif(not os.path.exists("/proc/self/ns/time"), reason="no time namespaces")
def test_exec_joins_the_time_namespace(runner, make_spec):
    spec = make_spec(["sleep", "100"])
    spec["linux"]["namespaces"].append({"type": "time"})
    spec["linux"]["timeOffsets"] = {"boottime": {"secs": 1_000_000}}
    cid, _ = _start_sleeper(runner, spec)
    code, output = _run_exec(runner, cid, _exec_process(["cut", "-d.", "-f1",
                                                         "/proc/uptime"]))
    assert code == 0, output
    with open("/proc/uptime") as f:
        host = int(float(f.read().split()[0]))
    assert int(output) - host >= 1_000_000 - 60
