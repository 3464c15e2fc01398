"""berthd's own flags: the default runtime and the snapshotter are chosen at start."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_runc_default_runtime_on_native_snapshotter() -> None:
    d = Daemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")))
    try:
        d.start("--runtime", "runc", "--snapshotter", "native")
        d.berth("image", "bootstrap", "busybox")
        out = d.berth("run", "--name", "r1", "busybox", "sh", "-c",
                      "echo $$; rm -rf /bin/ls; test -e /bin/ls || echo gone").stdout
        assert out == "1\ngone\n"
        c = json.loads(d.berth("inspect", "r1").stdout)[0]
        assert c["HostConfig"]["Runtime"] == "runc"
        assert c["Driver"] == c["GraphDriver"]["Name"] == "native"  # the real snapshotter
        image = json.loads(d.docker("image", "inspect", "busybox").stdout)[0]
        assert image["GraphDriver"]["Name"] == "native"
        assert d.berth("run", "--rm", "busybox", "ls", "/bin/ls").stdout == "/bin/ls\n"
        assert (d.data_root / "snapshots" / "native").is_dir()
        assert not (d.data_root / "snapshots" / "overlay").exists()
        info = json.loads(d.docker("info", "--format", "{{json .}}").stdout)
        assert info["DefaultRuntime"] == "runc" and info["Driver"] == "native"
    finally:
        d.cleanup()
