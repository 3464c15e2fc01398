"""berth-runtime as separate processes, the way runc is driven."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest


@pytest.fixture
def cli(tmp_path):
    root = tmp_path / "cli-state"
    created: list[str] = []

    def run(*args: str, stdout=subprocess.PIPE, check: bool = True):
        # A created init keeps the CLI's stdio: callers pass a file for create.
        stderr = stdout if stdout is not subprocess.PIPE else subprocess.PIPE
        if args and args[0] in ("create", "run"):
            created.append(args[-1])
        return subprocess.run([sys.executable, "-m", "berth.runtime.linux.cli", "--root",
                               str(root), *args], stdout=stdout, stderr=stderr,
                              stdin=subprocess.DEVNULL, text=True, timeout=30, check=check)

    try:
        yield run
    finally:
        for cid in created:
            run("delete", "--force", cid, check=False)


def _state(cli, cid):
    return json.loads(cli("state", cid).stdout)


def test_create_start_state_kill_delete(cli, runner, make_spec, tmp_path):
    spec = make_spec(["sh", "-c", "echo hello from $$; exec sleep 60"])
    bundle = runner.bundle(spec)
    out = tmp_path / "out"
    pid_file = tmp_path / "pid"
    cid = "berth-test-cli"
    with open(out, "w") as f:  # init keeps the CLI's stdout: a file, not our pipe
        cli("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid, stdout=f)
    pid = int(pid_file.read_text())
    state = _state(cli, cid)
    assert (state["status"], state["pid"], state["bundle"]) == ("created", pid, str(bundle))
    assert out.read_text() == ""  # blocked before exec although the CLI has exited

    cli("start", cid)
    assert _state(cli, cid)["status"] == "running"
    deadline = time.monotonic() + 5
    while "hello" not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.read_text() == "hello from 1\n"

    assert cli("delete", cid, check=False).returncode == 1  # running: needs --force
    cli("kill", cid, "KILL")
    deadline = time.monotonic() + 5
    while _state(cli, cid)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _state(cli, cid) | {"created": None} == state | {
        "status": "stopped", "pid": 0, "created": None}
    cli("delete", cid)
    assert cli("state", cid, check=False).returncode == 1
    assert not os.path.exists(f"/sys/fs/cgroup/memory{spec['linux']['cgroupsPath']}")


def test_run_returns_the_exit_status(cli, runner, make_spec):
    bundle = runner.bundle(make_spec(["sh", "-c", "echo $(hostname); exit 3"]))
    result = cli("run", "--bundle", str(bundle), "berth-test-cli-run", check=False)
    assert (result.returncode, result.stdout) == (3, "berthbox\n")


def test_create_reports_runc_words(cli, runner, make_spec):
    bundle = runner.bundle(make_spec(["nosuchcmd"]))
    result = cli("create", "--bundle", str(bundle), "berth-test-cli-fail", check=False)
    assert result.returncode == 1
    # Logged as runc's logrus does: the message quoted, its quotes escaped.
    assert ('unable to start container process: exec: \\"nosuchcmd\\": executable file '
            'not found in $PATH"') in result.stderr


def test_console_socket_is_refused(cli, runner, make_spec):
    bundle = runner.bundle(make_spec(["true"]))
    result = cli("create", "--bundle", str(bundle), "--console-socket", "/x", "berth-test-c",
                 check=False)
    assert result.returncode == 1
    assert "cannot use console socket if runc will not detach or allocate tty" in result.stderr
