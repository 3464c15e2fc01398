"""kill -9 of berthd at any moment leaves a consistent store: after a restart every record
inspects, nothing runs that ps cannot show, and removing everything leaves no cgroup,
mount, shim or snapshot behind."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from tests.compat.daemon import BERTH, CGROUP_ROOT, Daemon


def _busy(d: Daemon, round_no: int) -> list[subprocess.Popen[bytes]]:
    """A burst of concurrent work: creates, starts, runs, removals."""
    cmds = [
        ["run", "--rm", "busybox", "true"],
        ["run", "-d", "--name", f"crash{round_no}", "busybox", "sleep", "30"],
        ["run", "--rm", "busybox", "sh", "-c", "echo x; sleep 0.2"],
        ["create", "busybox", "true"],
        ["run", "--name", f"done{round_no}", "busybox", "true"],
    ]
    return [subprocess.Popen([BERTH, "-H", d.host, *c], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for c in cmds]


def _shim_pids(d: Daemon) -> set[int]:
    pids = set()
    for f in d.exec_root.glob("containers/*/shim.pid"):
        pid = int(f.read_text().split()[0])
        if Path(f"/proc/{pid}").exists():
            pids.add(pid)
    return pids


def test_kill_9_at_random_moments(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    rng = random.Random(20261128)
    for round_no in range(6):
        work = _busy(d, round_no)
        time.sleep(rng.uniform(0.02, 0.6))
        d.stop(signal.SIGKILL)
        for p in work:
            p.wait(30)
        d.start()
        ids = d.berth("ps", "-aq", "--no-trunc").stdout.split()
        running = set()
        for cid in ids:
            state = json.loads(d.berth("inspect", cid).stdout)[0]["State"]
            if state["Running"]:
                running.add(state["Pid"])
                os.kill(state["Pid"], 0)
        # every live shim belongs to a container that ps shows as running
        assert len(_shim_pids(d)) == len(running)
        assert d.berth("images", "-q").stdout.strip() != ""
    ids = d.berth("ps", "-aq").stdout.split()
    if ids:
        d.berth("rm", "-f", *ids)
    time.sleep(0.5)
    assert not _shim_pids(d)
    assert not any((top / d.cgroup_parent).exists() and any(
        p.is_dir() for p in (top / d.cgroup_parent).iterdir()) for top in CGROUP_ROOT.iterdir())
    assert d.mounts() == []
    snapshots = d.data_root / "snapshots" / "overlay" / "snapshots"
    layers = {p.name for p in snapshots.iterdir()}
    assert len(layers) == 1, f"only busybox's one layer may remain, found {sorted(layers)}"
