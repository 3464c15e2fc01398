"""berthd runs wherever it is put: its shims' sockets do not live under the exec root, so
an exec root of any length works, live restore included; a socket path that cannot work
(the API's -H) is refused at start, with a message, never a hang."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.compat.daemon import BERTHD, Daemon


@dataclass
class DeepDaemon(Daemon):
    """A Daemon whose exec root is deep (the API socket stays short: -H is the user's)."""

    @property
    def exec_root(self) -> Path:
        return self.root / "exec-root-of-a-daemon-put-somewhere-deep" / ("d" * 64)

    @property
    def socket(self) -> Path:
        return self.root / "api.sock"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_deep_exec_root_runs_containers_and_restores_them() -> None:
    d = DeepDaemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")))
    assert len(str(d.exec_root)) >= 100
    try:
        d.start()
        d.berth("image", "bootstrap", "busybox")
        assert d.docker("run", "--rm", "busybox", "echo", "hi", timeout=30).stdout == "hi\n"
        tty = d.docker("run", "--rm", "-t", "--runtime", "runc", "busybox", "tty", timeout=30)
        assert tty.stdout.startswith("/dev/pts/")
        d.docker("run", "-d", "--name", "kept", "busybox", "sleep", "600")
        d.stop()
        d.start()  # live restore finds the shim again from the state dir alone
        state = json.loads(d.docker("inspect", "kept").stdout)[0]["State"]
        assert state["Running"], state
        assert d.docker("exec", "kept", "echo", "in").stdout == "in\n"
        d.docker("rm", "-f", "kept", timeout=30)
    finally:
        d.cleanup()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_an_api_socket_path_too_long_is_refused_at_start() -> None:
    root = Path(tempfile.mkdtemp(prefix="b", dir="/tmp"))
    sock = root / ("s" * 120) / "berth.sock"
    try:
        done = subprocess.run(
            [BERTHD, "--data-root", str(root / "data"), "--exec-root", str(root / "x"),
             "-H", f"unix://{sock}"], capture_output=True, text=True, timeout=30)
        assert done.returncode != 0
        assert str(sock) in done.stderr and "107 bytes" in done.stderr, done.stderr
        assert not (root / "x").exists()  # refused before it made anything
    finally:
        shutil.rmtree(root, ignore_errors=True)
