"""NativeRuntime.exec and the in-container pty, directly (no shim): joins every
namespace of the running container, applies user/env/cwd, reports runc's errors."""

from __future__ import annotations

import os
import select
import time
from typing import Any

import pytest

from berth.errors import Conflict, RuntimeFailure
from berth.runtime import Stdio
from berth.runtime.linux import console, process


def _exec_process(args: list[str], **fields: Any) -> dict[str, Any]:
    proc: dict[str, Any] = {"user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/",
                            "env": ["PATH=/bin:/usr/bin"], "noNewPrivileges": True}
    proc.update(fields)
    return proc


def _start_sleeper(runner, spec: dict[str, Any]) -> tuple[str, int]:
    null = os.open("/dev/null", os.O_RDWR)
    try:
        cid, pid = runner.create(spec, Stdio(null, null, null))
    finally:
        os.close(null)
    runner.runtime.start(cid)
    return cid, pid


def _run_exec(runner, cid: str, proc: dict[str, Any]) -> tuple[int, str]:
    out_r, out_w = os.pipe()
    null = os.open("/dev/null", os.O_RDONLY)
    try:
        pid = runner.runtime.exec(cid, "e1", proc, Stdio(null, out_w, out_w))
    finally:
        os.close(out_w)
        os.close(null)
    # reaped first: init cannot finish exiting while a process of its pid ns is unreaped
    runner.pids.insert(0, pid)
    with os.fdopen(out_r, "rb") as out:
        output = out.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output


def test_exec_joins_the_container(runner, make_spec):
    cid, init_pid = _start_sleeper(runner, make_spec(["sleep", "100"], hostname="execbox"))
    proc = _exec_process(
        ["sh", "-c", "echo $$; id -u; pwd; echo $X; hostname; ps -o pid,args; "
                     "grep -c ' / ' /proc/self/mountinfo; exit 4"],
        user={"uid": 1000, "gid": 1000}, cwd="/tmp", env=["PATH=/bin", "X=hello"])
    code, output = _run_exec(runner, cid, proc)
    lines = output.splitlines()
    assert code == 4, output
    assert int(lines[0]) != 1 and lines[1:5] == ["1000", "/tmp", "hello", "execbox"]
    assert any(line.split()[:2] == ["1", "sleep"] for line in lines), output  # init
    assert os.readlink(f"/proc/{init_pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")


def test_exec_not_found_and_not_running(runner, make_spec):
    cid, _ = _start_sleeper(runner, make_spec(["sleep", "100"]))
    null = os.open("/dev/null", os.O_RDWR)
    try:
        with pytest.raises(RuntimeFailure, match='exec: "nosuch": executable file not found'):
            runner.runtime.exec(cid, "e1", _exec_process(["nosuch"]), Stdio(null, null, null))
        created, _ = runner.create(make_spec(["true"]), Stdio(null, null, null))
        with pytest.raises(Conflict):
            runner.runtime.exec(created, "e2", _exec_process(["true"]),
                                Stdio(null, null, null))
    finally:
        os.close(null)


def _read_until_exit(master: int, pid: int, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the last slave closed
                break
            if not chunk:
                break
            out += chunk
        elif not process.is_alive(pid):
            break
    return out


def test_container_and_exec_get_a_pty_of_their_own(runner, make_spec):
    spec = make_spec(["sh", "-c", "tty; test -t 0 && echo isatty; sleep 100"])
    spec["process"]["terminal"] = True
    bundle = runner.bundle(spec)
    cid = "berth-test-tty"
    runner.ids.append(cid)
    pid, master = runner.runtime.create_with_console(cid, bundle)
    runner.pids.append(pid)
    try:
        runner.runtime.start(cid)
        out = b""
        deadline = time.monotonic() + 10
        while b"isatty" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                out += os.read(master, 4096)
        assert out.split(b"\r\n")[:2] == [b"/dev/pts/0", b"isatty"], out
        proc = _exec_process(["sh", "-c", "tty; stty size"], terminal=True,
                             consoleSize={"height": 33, "width": 101})
        exec_pid, exec_master = runner.runtime.exec_with_console(cid, "e1", proc)
        runner.pids.insert(0, exec_pid)
        try:
            output = _read_until_exit(exec_master, exec_pid)
        finally:
            os.close(exec_master)
        _, status = os.waitpid(exec_pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert output.split(b"\r\n")[:2] == [b"/dev/pts/1", b"33 101"], output
    finally:
        os.close(master)


def test_set_size_on_master(runner, make_spec):
    master, slave = console.open_pty()
    try:
        console.set_size(master, 40, 120)
        import fcntl
        import struct
        import termios

        rows, cols, _, _ = struct.unpack(
            "HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))
        assert (rows, cols) == (40, 120)
    finally:
        os.close(master)
        os.close(slave)
