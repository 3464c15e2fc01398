"""``berth registry ...`` runs the registry server program."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.compat.daemon import BERTH


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_and_garbage_collect(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen([BERTH, "registry", "serve", "--addr", f"127.0.0.1:{port}",
                               "--root", str(tmp_path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as r:
                    assert r.status == 200
                    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
                    assert json.loads(r.read()) == {}
                break
            except OSError:
                assert time.monotonic() < deadline, "berth registry serve never answered"
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(10)
    gc = subprocess.run([BERTH, "registry", "garbage-collect", "--root", str(tmp_path),
                         "--dry-run"], capture_output=True, text=True, timeout=60)
    assert gc.returncode == 0, gc.stderr
