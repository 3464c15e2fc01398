"""The zygote takes its socket along when it is told to stop (berthd stopped or died), so
nothing is left in the shared socket directory; a socket a newer zygote bound at the same
path since is left alone."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _start(path: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "berth.runtime.shim.zygote",
                             "--socket", str(path)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the zygote did not bind its socket")
        time.sleep(0.01)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def test_sigterm_removes_the_zygotes_socket(tmp_path: Path) -> None:
    path = tmp_path / "zygote.sock"
    proc = _start(path)
    try:
        with socket.socket(socket.AF_UNIX) as probe:  # it serves until told to stop
            probe.connect(str(path))
        assert _stop(proc) == 0
        assert not path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_socket_bound_since_by_another_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "zygote.sock"
    proc = _start(path)
    newer = socket.socket(socket.AF_UNIX)
    try:
        path.unlink()
        newer.bind(str(path))  # a new zygote at the same path
        assert _stop(proc) == 0
        assert path.exists()
    finally:
        newer.close()
        if proc.poll() is None:
            proc.kill()
