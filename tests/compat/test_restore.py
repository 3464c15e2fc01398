"""Live restore: containers outlive berthd (SIGTERM or SIGKILL) and the restarted daemon
takes them back; a container that exited while the daemon was down shows its real code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.compat.daemon import BERTH, CGROUP_ROOT, Daemon


def _state(d: Daemon, ref: str) -> dict[str, object]:
    state = json.loads(d.berth("inspect", ref).stdout)[0]["State"]
    assert isinstance(state, dict)
    return state


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_containers_survive_daemon_restart(fresh_daemon: Daemon, sig: int) -> None:
    d = fresh_daemon
    d.berth("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
            "trap 'exit 3' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    d.berth("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 7")
    pid = _state(d, "ticker")["Pid"]
    assert isinstance(pid, int)
    d.stop(sig)
    time.sleep(1.5)  # "short" exits while no daemon runs
    os.kill(pid, 0)  # the container process is still alive
    d.start()
    assert _state(d, "ticker")["Running"] is True and _state(d, "ticker")["Pid"] == pid
    short = _state(d, "short")
    assert short["Status"] == "exited" and short["ExitCode"] == 7
    assert "ticker" in d.berth("ps", "--format", "{{.Names}}").stdout.split()

    follow = subprocess.Popen([BERTH, "-H", d.host, "logs", "-f", "ticker"],
                              stdout=subprocess.PIPE, text=True)
    try:
        seen = [follow.stdout.readline() for _ in range(3)] if follow.stdout else []
        assert all(line.startswith("tick ") for line in seen)
        d.berth("stop", "ticker")
        follow.wait(10)
        assert follow.returncode == 0, "logs -f ends when the container stops"
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert d.berth("wait", "ticker").stdout.strip() == "3"


def test_exited_shim_is_gone_and_state_consistent(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    d.berth("run", "--name", "once", "busybox", "true")
    assert not list(d.exec_root.glob("containers/*/shim.pid")), "the shim exits with its container"
    d.stop(signal.SIGKILL)
    d.start()
    assert _state(d, "once")["ExitCode"] == 0
    d.berth("rm", "once")
    assert d.berth("ps", "-aq").stdout.strip() == ""


def test_a_stopped_daemon_removes_its_cgroup_parent_and_pid_file(
        fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    unified = (CGROUP_ROOT / "cgroup.controllers").exists()
    parent = CGROUP_ROOT / ("" if unified else "memory") / d.cgroup_parent
    d.berth("run", "-d", "--name", "stays", "busybox", "sleep", "600")
    assert parent.is_dir()
    d.stop()  # SIGTERM: the container keeps running, so its parent stays
    assert parent.is_dir() and any(p.is_dir() for p in parent.iterdir())
    d.start()
    d.berth("rm", "-f", "stays")
    assert (d.exec_root / "berthd.pid").read_text() == f"{d.proc.pid}\n"
    d.stop()
    assert not parent.exists()
    assert not (d.exec_root / "berthd.pid").exists()  # nothing left to name a reused pid
