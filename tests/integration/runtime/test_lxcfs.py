"""berthd's lxcfs (runtime/lxcfs.py) on the real kernel: started, reused by a second
manager of the same exec root, kept while a mount namespace binds its files, restarted
after a SIGKILL with the files bound again in that namespace, and gone (process, mount,
pid file) when nothing uses it. The namespace is a ``unshare --mount`` process binding
the files as a container's runtime does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.runtime.lxcfs import Lxcfs, namespace_users

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(shutil.which("lxcfs") is None,
                                 reason="lxcfs is not installed (apt-get install lxcfs)")]


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def _in_ns(pid: int, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", "-t", str(pid), "-m", *argv], capture_output=True,
                          text=True, timeout=10, check=False)


@pytest.fixture
def view(tmp_path: Path) -> Iterator[Lxcfs]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    lx = Lxcfs(tmp_path / "x", shutil.which("lxcfs") or "lxcfs")
    try:
        yield lx
    finally:
        lx.stop()


def test_started_reused_kept_rebound_and_stopped(view: Lxcfs) -> None:
    view.paths.exec_root.mkdir()
    view.ensure()
    pid = int(view.paths.pidfile.read_text())
    assert _mounted(view.mountpoint)
    assert (view.mountpoint / "proc/meminfo").read_text().startswith("MemTotal:")
    again = Lxcfs(view.paths.exec_root, view.binary)  # the next berthd
    again.ensure()
    assert int(again.paths.pidfile.read_text()) == pid

    m = view.mountpoint
    user = subprocess.Popen([
        "unshare", "--mount", "--propagation", "private", "sh", "-c",
        f"mount --bind -o ro {m}/proc/meminfo /proc/meminfo && "
        f"mount --bind {m}/proc/stat /proc/stat && exec sleep 60"])
    try:
        deadline = time.monotonic() + 10
        dev = view.paths.devfile.read_text().strip()
        while sorted(namespace_users(dev, m).get(user.pid, [])) != ["/proc/meminfo",
                                                                   "/proc/stat"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert view.stop() is False  # kept for the namespace that binds it
        assert _mounted(m)

        os.kill(pid, signal.SIGKILL)
        while _in_ns(user.pid, "cat", "/proc/meminfo").returncode == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "Transport endpoint is not connected" in \
            _in_ns(user.pid, "cat", "/proc/meminfo").stderr
        view.ensure()  # a new lxcfs, its files bound again in the namespace
        assert int(view.paths.pidfile.read_text()) != pid
        assert _in_ns(user.pid, "head", "-1", "/proc/meminfo").stdout.startswith("MemTotal:")
        assert _in_ns(user.pid, "head", "-1", "/proc/stat").stdout.startswith("cpu ")
        mounts = _in_ns(user.pid, "grep", " /proc/meminfo ", "/proc/self/mountinfo").stdout
        assert " ro," in mounts and "fuse.lxcfs" in mounts
    finally:
        user.kill()
        user.wait()
    deadline = time.monotonic() + 10
    while not view.stop():  # the namespace goes with its last process
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not _mounted(view.mountpoint)
    assert not view.paths.pidfile.exists()
