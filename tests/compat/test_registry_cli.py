"""``berth registry ...`` runs the registry server program."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

from tests.compat.daemon import BERTH, registry_server


def test_serve_and_garbage_collect(tmp_path: Path) -> None:
    with registry_server(tmp_path) as host:
        with urllib.request.urlopen(f"http://{host}/v2/", timeout=2) as r:
            assert r.status == 200
            assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
            assert json.loads(r.read()) == {}
    gc = subprocess.run([BERTH, "registry", "garbage-collect", "--root", str(tmp_path),
                         "--dry-run"], capture_output=True, text=True, timeout=60)
    assert gc.returncode == 0, gc.stderr
