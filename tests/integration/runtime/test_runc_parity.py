"""The same spec under ``runc run`` and NativeRuntime behaves the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

RUNC = shutil.which("runc") or "/usr/sbin/runc"

PROBE = "echo pid=$$; hostname; id; grep -c . /proc/net/dev"


@pytest.fixture
def runc_run(tmp_path):
    """Run a bundle with runc; its own `run` removes the cgroup and state on exit."""
    state_root = tmp_path / "runc-state"
    ids: list[str] = []

    def run(spec: dict) -> subprocess.CompletedProcess[str]:
        bundle = tmp_path / f"runc-bundle-{uuid.uuid4().hex[:6]}"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(spec))
        cid = f"berth-test-runc-{uuid.uuid4().hex[:8]}"
        ids.append(cid)
        return subprocess.run([RUNC, "--root", str(state_root), "run", "--bundle",
                               str(bundle), cid], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30, check=False)

    if not shutil.which(RUNC):
        pytest.skip("runc not installed")
    try:
        yield run
    finally:
        for cid in ids:
            subprocess.run([RUNC, "--root", str(state_root), "delete", "--force", cid],
                           capture_output=True, check=False)


@pytest.mark.parametrize("user", [{"uid": 0, "gid": 0},
                                  {"uid": 1000, "gid": 1000, "additionalGids": [10]}])
def test_same_output_as_runc(runner, make_spec, runc_run, user):
    spec = make_spec(["sh", "-c", PROBE], hostname="parity")
    spec["process"]["user"] = user
    ours = runner.run(spec)
    spec["linux"]["cgroupsPath"] += "-runc"
    theirs = runc_run(spec)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stdout.startswith("pid=1\nparity\n")


def test_same_capabilities_as_runc(runner, make_spec, runc_run):
    spec = make_spec(["grep", "^Cap", "/proc/self/status"])
    ours = runner.run(spec)
    spec["linux"]["cgroupsPath"] += "-runc"
    assert ours.stdout == runc_run(spec).stdout


def test_same_exec_failure_words_as_runc(runner, make_spec, runc_run):
    from berth.errors import RuntimeFailure

    spec = make_spec(["nosuchcmd"])
    with pytest.raises(RuntimeFailure) as info:
        runner.run(spec)
    spec["linux"]["cgroupsPath"] += "-runc"
    theirs = runc_run(spec)
    assert theirs.returncode != 0
    # runc logs through logrus, which escapes the quotes.
    assert info.value.message.replace('"', '\\"') in theirs.stderr
