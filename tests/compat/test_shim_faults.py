"""A shim never dies of what berthd sends it, and when one dies anyway (killed, crashed)
berthd notices at once, kills what is left of the container and records it exited, so stop
and rm work without a daemon restart and nothing of it stays behind."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import docker
import pytest

from berth.runtime.sockets import socket_path
from tests.compat.daemon import CGROUP_ROOT, Daemon


def _alive(pid: int) -> bool:
    """Running, not merely a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _shim_pid(daemon: Daemon, cid: str) -> int:
    return int((daemon.exec_root / "containers" / cid / "shim.pid").read_text())


@pytest.mark.parametrize("size", [(70000, 80), (24, 65536), (-1, 80), ("x", 80)])
def test_an_out_of_range_resize_is_a_400_and_harms_nothing(
        client: docker.DockerClient, daemon: Daemon, size: tuple[object, object]) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "while true; do stty size; sleep 0.1; "
                                          "done"], tty=True, detach=True)
    try:
        shim = _shim_pid(daemon, c.id)
        ex = client.api.exec_create(c.id, ["sleep", "600"], tty=True)
        client.api.exec_start(ex["Id"], detach=True, tty=True)
        for resize in (lambda: client.api.resize(c.id, *size),
                       lambda: client.api.exec_resize(ex["Id"], *size)):
            with pytest.raises(docker.errors.APIError) as bad:
                resize()
            assert bad.value.status_code == 400
            assert "invalid resize" in bad.value.explanation
        assert _alive(shim)
        c.resize(height=31, width=101)  # the shim still serves
        deadline = time.monotonic() + 10
        while b"31 101" not in c.logs():
            assert time.monotonic() < deadline, "the resize after the refusals did not land"
            time.sleep(0.05)
        started = time.monotonic()
        c.stop(timeout=0)
        assert time.monotonic() - started < 10
    finally:
        c.remove(force=True)


@pytest.mark.parametrize("then", ["wait", "stop", "rm"])
def test_a_killed_shim_leaves_an_exited_container_and_nothing_behind(
        daemon: Daemon, then: str) -> None:
    cid = daemon.docker("run", "-d", "busybox", "sleep", "600").stdout.strip()
    state_dir = daemon.exec_root / "containers" / cid
    init = json.loads(daemon.docker("inspect", cid).stdout)[0]["State"]["Pid"]
    cgroups = [top / daemon.cgroup_parent / cid
               for top in [CGROUP_ROOT, *CGROUP_ROOT.iterdir()]
               if (top / daemon.cgroup_parent / cid).is_dir()]
    assert cgroups and _alive(init)
    os.kill(_shim_pid(daemon, cid), signal.SIGKILL)
    started = time.monotonic()
    if then == "stop":  # races the daemon's noticing: must neither hang nor fail
        daemon.docker("stop", cid, timeout=20)
    elif then == "rm":
        daemon.docker("rm", "-f", cid, timeout=20)
        assert time.monotonic() - started < 10
        assert daemon.docker("inspect", cid, check=False).returncode != 0
    if then != "rm":
        deadline = time.monotonic() + 10
        while (state := json.loads(daemon.docker("inspect", cid).stdout)[0]["State"])[
                "Running"]:
            assert time.monotonic() < deadline, "the shim's death went unnoticed"
            time.sleep(0.05)
        assert time.monotonic() - started < 10
        assert state["Status"] == "exited" and state["ExitCode"] == 137, state
        assert "shim died" in state["Error"]
        daemon.docker("rm", cid, timeout=20)
    assert not _alive(init)
    assert not any(path.exists() for path in cgroups)
    assert not state_dir.exists()
    assert not socket_path(state_dir, "shim.sock").exists()
    assert not socket_path(state_dir, "attach.sock").exists()
    assert not (daemon.exec_root / "claims" / cid).exists()
