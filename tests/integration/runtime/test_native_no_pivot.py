"""runc's --no-pivot in the native init (``InitConfig.no_pivot``): the rootfs is moved
over / and chrooted into, and the container sees the same mounts as under runc."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.integration.runtime.spec_flow import RUNC

from berth.runtime.linux import init, process
from berth.runtime.linux import syscalls as sc

PROBE = "ls /; wc -l < /proc/self/mountinfo; cut -d' ' -f4,5 /proc/self/mountinfo | head -3"


@pytest.mark.skipif(not shutil.which(RUNC), reason="runc not installed")
def test_no_pivot_as_runc(make_spec, tmp_path: Path) -> None:
    spec = make_spec(["sh", "-c", PROBE])
    del spec["linux"]["cgroupsPath"]
    _without_cgroup_ns(spec)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(spec))
    theirs = subprocess.run([RUNC, "--root", str(tmp_path / "runc"), "run", "--no-pivot",
                             "--bundle", str(bundle), "berth-nopivot"], capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=30, check=False)
    assert theirs.returncode == 0, theirs.stderr

    state = tmp_path / "state"
    state.mkdir(mode=0o711)
    os.mkfifo(state / init.EXEC_FIFO, 0o622)
    state_fd = os.open(state, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    out_r, out_w = os.pipe()
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # init is reparented to us
    pid = 0
    try:
        pid = process.spawn_init(process.SpawnRequest(
            config=init.InitConfig(spec, bundle, state_fd, None, no_pivot=True),
            stdio=(0, out_w, out_w), cgroup=None))
        os.close(out_w)
        process.release_init(state, pid)
        with os.fdopen(out_r, "rb") as out:
            ours = out.read().decode()
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        os.close(state_fd)
        process.kill_and_reap(pid)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ours == theirs.stdout
    assert f"{spec['root']['path']} /\n" in ours


def _without_cgroup_ns(spec: dict) -> None:
    spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"]
                                   if ns["type"] != "cgroup"]
