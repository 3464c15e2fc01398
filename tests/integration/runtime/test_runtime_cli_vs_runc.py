"""berth-runtime against runc 1.x, command by command: the same bundle (a busybox rootfs)
through both command lines, comparing exit codes, output shapes and messages.

Each runtime gets its own state root and cgroup; the container ids are the same, so
outputs compare directly once bundle paths, pids and times are set aside. The test
process is a subreaper, so detached inits come back to it and are reaped here (this
host's PID 1 reaps nothing: an unreaped init would stay "running" for runc).
"""

from __future__ import annotations

import array
import contextlib
import copy
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from berth.runtime.linux import syscalls as sc
from berth.runtime.linux.cgroups import open_manager

from .conftest import CGROUP_PARENT, CGROUP_ROOT, minimal_spec

RUNC = shutil.which("runc") or "/usr/sbin/runc"
BERTH = [sys.executable, "-m", "berth.runtime.linux.cli"]
CID = "berth-cli-vs-runc"
_MSG = re.compile(r'msg=("(?:[^"\\]|\\.)*"|\S+)')

pytestmark = pytest.mark.skipif(not os.path.exists(RUNC), reason="runc not installed")


def error_message(stderr: str) -> str:
    """The last error of a runtime's stderr (logrus text line or bare), with the program
    name as runc's so both compare."""
    found = _MSG.findall(stderr)
    if not found:
        return stderr.strip()
    last = found[-1]
    text = json.loads(last) if last.startswith('"') else last
    return str(text).replace("berth-runtime", "runc")


@dataclass
class Cli:
    """One runtime's command line with its own root, bundle and cgroup."""

    name: str
    argv0: list[str]
    root: Path
    bundle: Path
    tmp: Path
    pids: list[int] = field(default_factory=list)

    @property
    def cgroup(self) -> str:
        return json.loads((self.bundle / "config.json").read_text())["linux"]["cgroupsPath"]

    def __call__(self, *args: str, stdin: Any = subprocess.DEVNULL, input: str | None = None,
                 timeout: float = 30) -> subprocess.CompletedProcess[str]:
        if input is not None:
            stdin = None
        return subprocess.run([*self.argv0, "--root", str(self.root), *args], stdin=stdin,
                              input=input, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def detached(self, *args: str, timeout: float = 30) -> tuple[int, str]:
        """A command whose processes outlive it (create, run -d, exec -d): they inherit
        its stdio, so that is a file rather than a pipe we would wait on."""
        out = self.tmp / f"{self.name}-{uuid.uuid4().hex[:6]}.out"
        with open(out, "w") as f:
            rc = subprocess.run([*self.argv0, "--root", str(self.root), *args],
                                stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                timeout=timeout, check=False).returncode
        return rc, out.read_text()

    def state(self, cid: str = CID) -> dict[str, Any]:
        result = self("state", cid)
        assert result.returncode == 0, result.stderr
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc

    def start_detached(self, args: list[str] | None = None, cid: str = CID) -> int:
        """run -d the bundle (after replacing its args); the init pid."""
        if args is not None:
            self.set_args(args)
        rc, out = self.detached("run", "-d", "--bundle", str(self.bundle), cid)
        assert rc == 0, out
        pid = int(self.state(cid)["pid"])
        self.pids.append(pid)
        return pid

    def set_args(self, args: list[str], **process: Any) -> None:
        spec = json.loads((self.bundle / "config.json").read_text())
        spec["process"]["args"] = args
        spec["process"].update(process)
        (self.bundle / "config.json").write_text(json.dumps(spec))

    def cgroup_file(self, controller: str, name: str) -> str:
        rel = self.cgroup.lstrip("/")
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            return (CGROUP_ROOT / rel / name).read_text().strip()
        return (CGROUP_ROOT / controller / rel / name).read_text().strip()

    def stop(self, cid: str = CID) -> None:
        """SIGKILL init and reap it, so both runtimes see it stopped."""
        pid = int(self.state(cid)["pid"])
        assert self("kill", cid, "KILL").returncode == 0
        reap(pid)

    def cleanup(self) -> None:
        listed = self("list", "-q")
        for cid in listed.stdout.split():
            self("delete", "--force", cid)
        reap_all(self.pids)
        # runc leaves an empty cgroup behind when its init was not reaped before delete.
        for suffix in ("", "-spec"):
            open_manager(self.cgroup + suffix).destroy()
            # On a hybrid host runc also joins the named systemd and the empty unified
            # hierarchies, which the manager leaves alone.
            for hierarchy in ("systemd", "unified"):
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    (CGROUP_ROOT / hierarchy / (self.cgroup + suffix).lstrip("/")).rmdir()


def reap_all(pids: list[int], timeout: float = 10) -> None:
    """Reap our container processes in whatever order they can go (a dying pid
    namespace's init waits for the others to be reaped first)."""
    left = set(pids)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                left.discard(pid)
        time.sleep(0.02)


def reap(pid: int, timeout: float = 10) -> None:
    """Wait for one of our (subreaped) container processes; gone already is fine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.02)


@pytest.fixture
def pair(busybox_rootfs: Path, tmp_path: Path) -> Iterator[list[Cli]]:
    """[runc, berth-runtime], each with a bundle of the same spec (``sleep 300``)."""
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    clis = []
    for name, argv0 in (("runc", [RUNC]), ("berth", BERTH)):
        spec = minimal_spec(busybox_rootfs, ["sleep", "300"])
        spec["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/cli-{uuid.uuid4().hex[:8]}-{name}"
        bundle = tmp_path / f"bundle-{name}"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(spec))
        clis.append(Cli(name, argv0, tmp_path / f"root-{name}", bundle, tmp_path))
    try:
        yield clis
    finally:
        for cli in clis:
            cli.cleanup()


def both(pair: list[Cli], *args: str, **kwargs: Any) -> list[subprocess.CompletedProcess[str]]:
    return [cli(*args, **kwargs) for cli in pair]


def same_outcome(pair: list[Cli], *args: str, code: int, message: str | None = None) -> None:
    results = both(pair, *args)
    assert [r.returncode for r in results] == [code, code], [r.stderr for r in results]
    if message is not None:
        assert [error_message(r.stderr) for r in results] == [message, message]


def test_version(pair):
    runc, berth = both(pair, "--version")
    assert runc.returncode == berth.returncode == 0
    assert runc.stdout.splitlines()[0].startswith("runc version ")
    assert berth.stdout.splitlines()[0].startswith("berth-runtime version ")
    assert "spec: 1.0.2" in berth.stdout.splitlines()
    assert any(line.startswith("spec: 1.0.2") for line in runc.stdout.splitlines())


@pytest.mark.parametrize("command", [["delete"], ["state"], ["kill"], ["pause"], ["resume"],
                                     ["ps"], ["events", "--stats"]])
def test_unknown_id_fails_as_runc(pair, command):
    same_outcome(pair, *command, "nosuch", code=1, message="container does not exist")


def test_delete_force_of_unknown_id_succeeds_silently(pair):
    results = both(pair, "delete", "--force", "nosuch")
    assert [(r.returncode, r.stdout, r.stderr) for r in results] == [(0, "", "")] * 2


def test_exec_in_unknown_id_exits_255(pair):
    same_outcome(pair, "exec", "nosuch", "true", code=255,
                 message="exec failed: container does not exist")


def test_malformed_id_and_usage_errors(pair):
    same_outcome(pair, "delete", "bad/id", code=1, message="invalid container ID format")
    same_outcome(pair, "state", code=1)
    same_outcome(pair, "--log-format", "xml", "list", code=1,
                 message="invalid log-format: xml")


def test_list_and_state(pair):
    assert [c("list").stdout for c in pair] == [
        "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"] * 2
    assert [c("list", "--format", "json").stdout for c in pair] == ["null\n"] * 2
    for cli in pair:
        cli.start_detached()
    runc_state, berth_state = (c.state() for c in pair)
    assert runc_state.keys() == berth_state.keys()
    for key in ("id", "status", "owner"):
        assert runc_state[key] == berth_state[key]
    assert berth_state["bundle"] == str(pair[1].bundle)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", berth_state["created"])
    for cli, state in zip(pair, (runc_state, berth_state), strict=True):
        table = cli("list").stdout.splitlines()
        assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        assert table[1].split() == [CID, str(state["pid"]), "running", str(cli.bundle),
                                    state["created"], "root"]
        assert cli("list", "-q").stdout == CID + "\n"
        listed = json.loads(cli("list", "--format", "json").stdout)
        assert listed == [state | {"owner": "root"}]
    # Go's tabwriter: each column as wide as its widest cell plus 3, at least 12.
    widths = [[len(m.group(0)) for m in re.finditer(r"\S+\s*", c("list").stdout.splitlines()[0])]
              for c in pair]
    assert widths[0][:3] == widths[1][:3]


def test_ps(pair):
    for cli in pair:
        cli.start_detached()
    for cli in pair:
        pid = cli.state()["pid"]
        table = cli("ps", CID)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split()[:3] == ["UID", "PID", "PPID"]
        assert [line.split()[1] for line in lines[1:]] == [str(pid)]
        assert lines[1].endswith("sleep 300")
        assert json.loads(cli("ps", "--format", "json", CID).stdout) == [pid]
        custom = cli("ps", CID, "-o", "pid,comm").stdout.splitlines()
        assert [line.split() for line in custom] == [["PID", "COMMAND"], [str(pid), "sleep"]]
    runc, berth = pair
    assert runc("ps", CID).stdout.splitlines()[0] == berth("ps", CID).stdout.splitlines()[0]
    same_outcome(pair, "ps", "--format", "yaml", CID, code=1, message="invalid format option")
    # runc 1.1 hands "--" to ps, which refuses it; berth-runtime drops it.
    dashed = berth("ps", CID, "--", "-o", "pid")
    assert dashed.stdout.split() == ["PID", str(berth.state()["pid"])]


def test_pause_resume(pair):
    for cli in pair:
        cli.start_detached()
    same_outcome(pair, "pause", CID, code=0)
    assert [c.state()["status"] for c in pair] == ["paused", "paused"]
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        assert [c.cgroup_file("freezer", "freezer.state") for c in pair] == ["FROZEN"] * 2
    assert [c("list").stdout.split()[8] for c in pair] == ["paused", "paused"]
    same_outcome(pair, "pause", CID, code=1, message="container not running")
    same_outcome(pair, "delete", CID, code=1,
                 message=f"cannot delete container {CID} that is not stopped: paused")
    same_outcome(pair, "resume", CID, code=0)
    assert [c.state()["status"] for c in pair] == ["running", "running"]
    same_outcome(pair, "resume", CID, code=1, message="container not paused")


def test_exec_output_and_exit_code(pair):
    for cli in pair:
        cli.start_detached()
    results = both(pair, "exec", CID, "sh", "-c", "echo hi; echo oops >&2; exit 4")
    assert [(r.returncode, r.stdout) for r in results] == [(4, "hi\n")] * 2
    assert all("oops" in r.stderr for r in results)
    flags = ["--env", "FOO=bar", "--env", "BAZ=1", "--cwd", "/tmp", "--user", "1000:1000",
             "-g", "10"]
    results = both(pair, "exec", *flags, CID, "sh", "-c", "echo $FOO$BAZ; pwd; id")
    assert results[0].returncode == 0, results[0].stderr
    assert results[0].stdout == results[1].stdout == (
        "bar1\n/tmp\nuid=1000(user) gid=1000(user) groups=10\n")
    results = both(pair, "exec", "--cap", "CAP_SYS_ADMIN", CID, "grep", "^CapBnd",
                   "/proc/self/status")
    assert results[0].stdout == results[1].stdout
    assert int(results[0].stdout.split()[1], 16) & (1 << 21)  # CAP_SYS_ADMIN
    results = both(pair, "exec", "--no-new-privs", CID, "grep", "^NoNewPrivs",
                   "/proc/self/status")
    assert [r.stdout.split() for r in results] == [["NoNewPrivs:", "1"]] * 2
    results = both(pair, "exec", CID, "nosuchcmd")
    assert [r.returncode for r in results] == [255, 255]
    assert [error_message(r.stderr) for r in results] == [
        'exec failed: unable to start container process: exec: "nosuchcmd": '
        "executable file not found in $PATH"] * 2


def test_exec_with_process_json(pair, tmp_path):
    for cli in pair:
        cli.start_detached()
    process = {"terminal": False, "user": {"uid": 1000, "gid": 1000},
               "args": ["sh", "-c", "id -u; pwd; echo $X"], "env": ["X=from-json",
                                                                     "PATH=/bin"],
               "cwd": "/home/user"}
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    results = both(pair, "exec", "--process", str(path), CID)
    assert [(r.returncode, r.stdout) for r in results] == [
        (0, "1000\n/home/user\nfrom-json\n")] * 2
    path.write_text(json.dumps(process | {"cwd": "relative"}))
    same_outcome(pair, "exec", "-p", str(path), CID, code=255,
                 message="exec failed: Cwd must be an absolute path")


def test_exec_detach_with_pid_file(pair, tmp_path):
    for cli in pair:
        cli.start_detached()
    for cli in pair:
        pid_file = tmp_path / f"{cli.name}.exec.pid"
        rc, out = cli.detached("exec", "-d", "--pid-file", str(pid_file), CID, "sleep", "77")
        assert rc == 0, out
        pid = int(pid_file.read_text())
        cli.pids.append(pid)
        assert Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x0077\x00"
        assert sorted(json.loads(cli("ps", "--format", "json", CID).stdout)) == sorted(
            [cli.state()["pid"], pid])


def test_kill_all_and_stopped_container(pair):
    for cli in pair:
        cli.start_detached()
        pid_file = cli.tmp / f"{cli.name}-exec.pid"
        rc, out = cli.detached("exec", "-d", "--pid-file", str(pid_file), CID, "sleep", "78")
        assert rc == 0, out
        cli.pids.append(int(pid_file.read_text()))
    same_outcome(pair, "kill", "--all", CID, "KILL", code=0)
    for cli in pair:
        # The exec'd process first: a dying pid namespace's init waits for it to be reaped.
        reap_all(cli.pids)
        deadline = time.monotonic() + 5
        while cli("ps", "--format", "json", CID).stdout.strip() not in ("null", "[]"):
            assert time.monotonic() < deadline, "processes survived kill --all"
            time.sleep(0.05)
    assert [c.state()["status"] for c in pair] == ["stopped", "stopped"]
    assert [c.state()["pid"] for c in pair] == [0, 0]
    same_outcome(pair, "kill", CID, "KILL", code=1, message="container not running")
    same_outcome(pair, "pause", CID, code=1, message="container not running")
    same_outcome(pair, "delete", CID, code=0)
    assert [c("list", "-q").stdout for c in pair] == ["", ""]


def test_delete_running_needs_force_and_start_twice(pair):
    for cli in pair:
        cli.start_detached()
    same_outcome(pair, "delete", CID, code=1,
                 message=f"cannot delete container {CID} that is not stopped: running")
    same_outcome(pair, "start", CID, code=1,
                 message="cannot start an already running container")
    same_outcome(pair, "kill", CID, "NOSUCHSIG", code=1)
    same_outcome(pair, "delete", "--force", CID, code=0)
    for cli in pair:
        reap(cli.pids[-1])
        assert not os.path.exists(CGROUP_ROOT / "pids" / cli.cgroup.lstrip("/"))


def test_update_reaches_the_cgroup(pair):
    for cli in pair:
        cli.start_detached()
    same_outcome(pair, "update", "--memory", "64M", "--pids-limit", "50", "--cpu-period",
                 "100000", "--cpu-quota", "50000", "--cpu-share", "512", CID, code=0)
    for cli in pair:
        assert cli.cgroup_file("memory", "memory.limit_in_bytes") == str(64 << 20)
        assert cli.cgroup_file("pids", "pids.max") == "50"
        assert cli.cgroup_file("cpu", "cpu.cfs_quota_us") == "50000"
        assert cli.cgroup_file("cpu", "cpu.shares") == "512"
    resources = json.dumps({"memory": {"limit": 32 << 20}, "pids": {"limit": 40}})
    results = both(pair, "update", "-r", "-", CID, input=resources)
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    for cli in pair:
        assert cli.cgroup_file("memory", "memory.limit_in_bytes") == str(32 << 20)
        assert cli.cgroup_file("pids", "pids.max") == "40"
        assert cli.cgroup_file("cpu", "cpu.cfs_quota_us") == "50000"  # untouched
        resources_file = cli.tmp / f"{cli.name}-resources.json"
        resources_file.write_text(json.dumps({"memory": {"limit": 48 << 20}}))
        assert cli("update", "--resources", str(resources_file), CID).returncode == 0
        assert cli.cgroup_file("memory", "memory.limit_in_bytes") == str(48 << 20)


def test_spec_as_runc(pair, tmp_path):
    for rootless in (False, True):
        docs = []
        for cli in pair:
            target = tmp_path / f"spec-{cli.name}-{rootless}"
            target.mkdir()
            result = cli("spec", "--bundle", str(target), *(["--rootless"] if rootless else []))
            assert result.returncode == 0, result.stderr
            text = (target / "config.json").read_text()
            assert text.startswith('{\n\t"ociVersion": ') and text.endswith("}")
            docs.append(json.loads(text))
            again = cli("spec", "--bundle", str(target))
            assert (again.returncode, error_message(again.stderr)) == (
                1, "File config.json exists. Remove it first")
        runc_doc, berth_doc = docs
        assert berth_doc["ociVersion"] == "1.0.2"
        assert runc_doc | {"ociVersion": ""} == berth_doc | {"ociVersion": ""}


def test_features_as_runc(pair):
    runc, berth = (json.loads(r.stdout) for r in both(pair, "features"))
    assert runc.keys() == berth.keys()
    assert runc["linux"].keys() == berth["linux"].keys()
    assert set(berth["linux"]["namespaces"]) >= {"cgroup", "ipc", "mount", "network", "pid",
                                                 "user", "uts"}
    assert set(berth["mountOptions"]) <= set(runc["mountOptions"])
    assert berth["linux"]["capabilities"] == runc["linux"]["capabilities"]


def test_events_stats(pair):
    for cli in pair:
        cli.start_detached()
    docs = []
    for cli in pair:
        result = cli("events", "--stats", CID)
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("\n") == 1
        docs.append(json.loads(result.stdout))
    runc, berth = docs
    assert (berth["type"], berth["id"]) == ("stats", CID)
    assert runc.keys() == berth.keys()
    assert runc["data"].keys() == berth["data"].keys()
    for key in ("cpu", "pids"):
        assert runc["data"][key].keys() == berth["data"][key].keys(), key
    assert runc["data"]["memory"].keys() - {"cache"} == berth["data"]["memory"].keys() - {
        "cache"}
    assert runc["data"]["cpu"]["usage"].keys() == berth["data"]["cpu"]["usage"].keys()
    assert berth["data"]["pids"]["current"] == 1
    assert berth["data"]["memory"]["usage"]["usage"] > 0


def test_events_stream(pair):
    for cli in pair:
        cli.start_detached()
    for cli in pair:
        proc = subprocess.Popen([*cli.argv0, "--root", str(cli.root), "events", "--interval",
                                 "200ms", CID], stdout=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            events = [json.loads(proc.stdout.readline()) for _ in range(2)]
        finally:
            proc.kill()
            proc.wait()
        assert [(e["type"], e["id"]) for e in events] == [("stats", CID)] * 2
    berth = pair[1]
    berth.stop()
    done = berth("events", "--interval", "100ms", CID, timeout=10)
    assert (done.returncode, error_message(done.stderr)) == (
        1, f"container with id {CID} is not running")


def test_run_detach_and_keep(pair):
    for cli in pair:
        cli.set_args(["sh", "-c", "echo kept; exit 3"])
    for cli in pair:
        result = cli("run", "--keep", "--bundle", str(cli.bundle), CID)
        assert (result.returncode, result.stdout) == (3, "kept\n"), result.stderr
        assert cli.state()["status"] == "stopped"
        assert cli("list", "-q").stdout == CID + "\n"
        assert cli("delete", CID).returncode == 0
        result = cli("run", "--bundle", str(cli.bundle), CID)
        assert (result.returncode, result.stdout) == (3, "kept\n")
        assert cli("list", "-q").stdout == ""  # deleted without --keep
        cli.set_args(["sleep", "300"])
        cli.start_detached()
        assert cli.state()["status"] == "running"


def test_run_no_pivot_no_new_keyring(pair):
    outputs = []
    for cli in pair:
        # The mounts seen inside are the same as runc's (the native init's own test checks
        # the move-and-chroot itself: test_native_no_pivot.py).
        cli.set_args(["sh", "-c", "echo ok; awk '{print $4, $5}' /proc/self/mountinfo"])
        result = cli("run", "--no-pivot", "--no-new-keyring", "--bundle", str(cli.bundle), CID)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("ok\n")


def test_run_forwards_signals(pair):
    """A foreground run passes what it receives to the container's init."""
    for cli in pair:
        cli.set_args(["sh", "-c", "trap 'exit 7' USR1; while :; do sleep 0.05; done"])
        proc = subprocess.Popen([*cli.argv0, "--root", str(cli.root), "run", "--bundle",
                                 str(cli.bundle), CID], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while cli("ps", "--format", "json", CID).stdout.strip() in ("", "null"):
                assert time.monotonic() < deadline, "container did not start"
                time.sleep(0.05)
            time.sleep(0.2)  # the trap is set once sh runs its loop
            proc.send_signal(signal.SIGUSR1)
            assert proc.wait(timeout=10) == 7
        finally:
            proc.kill()
            proc.wait()


def test_log_files(pair, tmp_path):
    for cli in pair:
        json_log = tmp_path / f"{cli.name}.json.log"
        result = cli("--log", str(json_log), "--log-format", "json", "delete", "nosuch")
        assert result.returncode == 1
        assert result.stderr == "container does not exist\n"  # the bare text as well
        entries = [json.loads(line) for line in json_log.read_text().splitlines()]
        assert [(e["level"], e["msg"]) for e in entries] == [
            ("error", "container does not exist")]
        assert sorted(entries[0]) == ["level", "msg", "time"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entries[0]["time"])
        text_log = tmp_path / f"{cli.name}.text.log"
        cli("--log", str(text_log), "delete", "nosuch")
        assert re.fullmatch(r'time="[^"]+" level=error msg="container does not exist"\n',
                            text_log.read_text())
        debug_log = tmp_path / f"{cli.name}.debug.log"
        cli.set_args(["true"])
        result = cli("--debug", "--log", str(debug_log), "--log-format", "json", "run",
                     "--bundle", str(cli.bundle), CID)
        assert result.returncode == 0, result.stderr
        entries = [json.loads(line) for line in debug_log.read_text().splitlines()]
        assert entries and {e["level"] for e in entries} == {"debug"}


def _make_terminal_bundle(cli: Cli) -> None:
    cli.set_args(["sh", "-c", "tty; echo out; echo err >&2; exit 5"], terminal=True)


def test_terminal_rules(pair):
    for cli in pair:
        _make_terminal_bundle(cli)
    for command in (["create"], ["run", "-d"]):
        results = [cli(*command, "--bundle", str(cli.bundle), CID) for cli in pair]
        assert [r.returncode for r in results] == [1, 1]
        assert [error_message(r.stderr).split(": ", 1)[1] for r in results] == [
            "cannot allocate tty if runc will detach without setting console socket"] * 2
    # A foreground run takes the caller's terminal; without one both refuse the same way.
    results = [cli("run", "--bundle", str(cli.bundle), CID) for cli in pair]
    assert [r.returncode for r in results] == [1, 1]
    assert [error_message(r.stderr).split(": ", 1)[1] for r in results] == [
        "open /dev/tty: no such device or address"] * 2
    assert [c("list", "-q").stdout for c in pair] == ["", ""]


def _receive_pty(server: socket.socket) -> tuple[bytes, int]:
    server.settimeout(10)
    conn, _ = server.accept()
    with conn:
        fds = array.array("i")
        msg, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    assert len(fds) == 1
    return msg, fds[0]


def _read_until_closed(fd: int, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break  # EIO: the container's side is closed
        if not data:
            break
        out += data
    return out


def test_terminal_through_console_socket(pair, tmp_path):
    outputs = []
    for cli in pair:
        _make_terminal_bundle(cli)
        path = str(tmp_path / f"{cli.name}.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(path)
            server.listen(1)
            rc, out = cli.detached("create", "--console-socket", path, "--bundle",
                                   str(cli.bundle), CID)
            assert rc == 0, out
            cli.pids.append(cli.state()["pid"])
            msg, master = _receive_pty(server)
        try:
            assert msg == b"/dev/ptmx"
            assert cli("start", CID).returncode == 0
            outputs.append(_read_until_closed(master))
        finally:
            os.close(master)
        reap(cli.pids[-1])
        assert cli.state()["status"] == "stopped"
    assert outputs[0] == outputs[1] == b"/dev/pts/0\r\nout\r\nerr\r\n"


def test_exec_tty_through_console_socket(pair, tmp_path):
    for cli in pair:
        cli.start_detached()
        path = str(tmp_path / f"{cli.name}-exec.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(path)
            server.listen(1)
            pid_file = tmp_path / f"{cli.name}-exec.pid"
            rc, out = cli.detached("exec", "-t", "-d", "--console-socket", path, "--pid-file",
                                   str(pid_file), CID, "sh", "-c", "tty; echo exec-out")
            assert rc == 0, out
            cli.pids.append(int(pid_file.read_text()))
            _, master = _receive_pty(server)
        try:
            assert _read_until_closed(master) == b"/dev/pts/0\r\nexec-out\r\n"
        finally:
            os.close(master)


def _run_on_a_pty(argv: list[str], stdin_data: bytes = b"") -> tuple[int, bytes]:
    """Run argv as a session leader whose controlling terminal is a new pty."""
    master, slave = os.openpty()

    def controlling_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, preexec_fn=controlling_terminal)
    os.close(slave)
    try:
        if stdin_data:
            os.write(master, stdin_data)
        out = _read_until_closed(master, timeout=20)
        return proc.wait(timeout=20), out
    finally:
        os.close(master)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def test_foreground_terminal_uses_the_callers(pair):
    results = []
    for cli in pair:
        _make_terminal_bundle(cli)
        results.append(_run_on_a_pty([*cli.argv0, "--root", str(cli.root), "run", "--bundle",
                                      str(cli.bundle), CID]))
    assert results[0][0] == results[1][0] == 5
    # runc writes one NUL first (its console's initial resize); the rest is the same.
    assert results[0][1].lstrip(b"\0") == results[1][1] == b"/dev/pts/0\r\nout\r\nerr\r\n"


def test_spec_default_runs_in_both(pair, busybox_rootfs, tmp_path):
    """A bundle made by ``spec`` (read-only root, terminal off) runs the same."""
    for cli in pair:
        bundle = tmp_path / f"from-spec-{cli.name}"
        bundle.mkdir()
        assert cli("spec", "--bundle", str(bundle)).returncode == 0
        spec = json.loads((bundle / "config.json").read_text())
        spec = copy.deepcopy(spec)
        spec["root"]["path"] = str(busybox_rootfs)
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["sh", "-c", "hostname; id -u"]
        spec["linux"]["cgroupsPath"] = cli.cgroup + "-spec"
        (bundle / "config.json").write_text(json.dumps(spec))
        result = cli("run", "--bundle", str(bundle), CID)
        assert (result.returncode, result.stdout) == (0, "runc\n0\n"), result.stderr


def test_create_errors_as_runc(pair, tmp_path):
    for cli in pair:
        rc, out = cli.detached("create", "--bundle", str(cli.bundle), CID)
        assert rc == 0, out
        cli.pids.append(cli.state()["pid"])
        assert cli.state()["status"] == "created"
    for args, message in (
            (["--bundle", "{bundle}", CID], "container with given ID already exists"),
            (["--bundle", "{bundle}", "bad/id"], "invalid container ID format"),
            (["--bundle", str(tmp_path / "nowhere"), "other"],
             f"chdir {tmp_path / 'nowhere'}: no such file or directory"),
            (["--bundle", str(tmp_path), "other"],
             "JSON specification file config.json not found")):
        results = [cli("create", *(a.replace("{bundle}", str(cli.bundle)) for a in args))
                   for cli in pair]
        assert [r.returncode for r in results] == [1, 1]
        assert [error_message(r.stderr) for r in results] == [
            f"runc create failed: {message}"] * 2
    # A created container is deleted without --force (its init killed).
    same_outcome(pair, "delete", CID, code=0)
    reap_all([pid for cli in pair for pid in cli.pids])
    assert [c("list", "-q").stdout for c in pair] == ["", ""]


def test_preserve_fds(pair, tmp_path):
    """--preserve-fds N: the caller's fds 3..3+N-1 are the container's 3..3+N-1."""
    outputs = []
    for cli in pair:
        cli.set_args(["sh", "-c", "echo to-3 >&3; echo to-4 >&4; echo 5 >&5 || echo no-5"])
        files = [tmp_path / f"{cli.name}-fd{n}" for n in (3, 4, 5)]
        opened = [os.open(f, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644) for f in files]

        def as_3_4_5(opened: list[int] = opened) -> None:
            for target, fd in enumerate(opened, start=3):
                os.dup2(fd, target)

        try:
            result = subprocess.run(
                [*cli.argv0, "--root", str(cli.root), "run", "--preserve-fds", "2",
                 "--bundle", str(cli.bundle), CID], pass_fds=(3, 4, 5), preexec_fn=as_3_4_5,
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                check=False)
        finally:
            for fd in opened:
                os.close(fd)
        assert result.returncode == 0, result.stderr
        outputs.append((result.stdout, [f.read_text() for f in files]))
    assert outputs[0] == outputs[1] == ("no-5\n", ["to-3\n", "to-4\n", ""])


def test_exec_tty_uses_the_callers_terminal(pair):
    results = []
    for cli in pair:
        cli.start_detached()
        results.append(_run_on_a_pty([*cli.argv0, "--root", str(cli.root), "exec", "-t", CID,
                                      "sh", "-c", "tty; read line; echo got-$line; exit 6"],
                                     stdin_data=b"typed\n"))
    assert results[0][0] == results[1][0] == 6
    for _, out in results:  # the echoes of "typed" come when they come: the rest is fixed
        out = out.replace(b"\r\r\n", b"\r\n")  # runc: before its raw mode, ONLCR again
        assert b"/dev/pts/0\r\n" in out and out.endswith(b"got-typed\r\n"), out



def test_exec_without_args(pair):
    for cli in pair:
        cli.start_detached()
    same_outcome(pair, "exec", CID, code=255, message="exec failed: process args cannot be empty")
