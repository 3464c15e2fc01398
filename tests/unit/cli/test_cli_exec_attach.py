"""exec, attach and the stdin pump against the fake daemon (no terminal: tests/compat's
test_interactive.py drives a real one)."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading

import pytest
from fake_daemon import CID, EXEC_ID

from berth.cli.attach import StreamIO, pump
from berth.cli.command import Context
from berth.client.hijack import HijackedStream
from berth.client.stream import RawStream


@pytest.fixture
def stdin_file(tmp_path, monkeypatch):
    """Point the CLI's stdin at a file, as ``berth ... < file`` does."""
    def use(data: bytes) -> None:
        path = tmp_path / "stdin"
        path.write_bytes(data)
        monkeypatch.setattr(sys, "stdin", open(path))
    return use


def paths(daemon) -> list[str]:
    return [f"{r.method} {r.path.removeprefix('/v1.45')}" for r in daemon.state.requests]


def test_exec_creates_starts_hijacked_and_exits_with_the_exec_code(berth, daemon):
    daemon.state.exec_exit_code = 4
    code, out, err = berth("exec", "-e", "A=1", "-u", "nobody", "-w", "/tmp", "web",
                           "sh", "-c", "exit 4")
    assert (code, out, err) == (4, "out\n", "err\n")
    assert paths(daemon) == ["GET /containers/web/json", "POST /containers/web/exec",
                             f"POST /exec/{EXEC_ID}/start", f"GET /exec/{EXEC_ID}/json"]
    create = json.loads(daemon.state.find("POST", "/exec").body)
    assert create == {"Cmd": ["sh", "-c", "exit 4"], "Env": ["A=1"], "User": "nobody",
                      "WorkingDir": "/tmp", "Tty": False, "Privileged": False,
                      "AttachStdin": False, "AttachStdout": True, "AttachStderr": True}
    start = daemon.state.find("POST", "/start")
    assert json.loads(start.body) == {"Detach": False, "Tty": False}
    assert start.headers["Upgrade"] == "tcp"


def test_exec_detached_starts_without_attaching(berth, daemon):
    code, out, _ = berth("exec", "-d", "web", "sleep", "5")
    assert (code, out) == (0, "")
    assert json.loads(daemon.state.find("POST", "/start").body) == {"Detach": True,
                                                                    "Tty": False}
    create = json.loads(daemon.state.find("POST", "/exec").body)
    assert not (create["AttachStdout"] or create["AttachStderr"])
    assert not [r for r in daemon.state.requests if r.path.endswith(f"{EXEC_ID}/json")]


def test_exec_streams_stdin_and_half_closes(berth, daemon, stdin_file):
    stdin_file(b"line one\nline two\n")
    daemon.state.echo_stdin = True
    daemon.state.frames = []
    code, out, _ = berth("exec", "-i", "--detach-keys", "ctrl-x,x", "web", "cat")
    assert (code, out) == (0, "line one\nline two\n")
    create = json.loads(daemon.state.find("POST", "/exec").body)
    assert create["AttachStdin"] is True and create["DetachKeys"] == "ctrl-x,x"


def test_exec_it_needs_a_terminal_and_creates_nothing(berth, daemon, stdin_file):
    stdin_file(b"")
    code, _, err = berth("exec", "-it", "web", "sh")
    assert (code, err) == (1, "the input device is not a TTY\n")
    assert paths(daemon) == ["GET /containers/web/json"]


def test_exec_missing_container_wins(berth, daemon):
    code, _, err = berth("exec", "nosuch", "true")
    assert (code, err) == (1, "Error response from daemon: No such container: nosuch\n")


def test_exec_needs_two_arguments(berth):
    code, _, err = berth("exec", "web")
    assert code == 1 and err.startswith("berth: 'berth exec' requires at least 2 arguments")


def test_run_interactive_streams_stdin_file(berth, daemon, stdin_file):
    stdin_file(b"hello\n")
    daemon.state.echo_stdin = True
    daemon.state.frames = [(2, b"warn\n")]
    code, out, err = berth("run", "-i", "--rm", "--detach-keys", "ctrl-a", "busybox", "cat")
    assert (code, out, err) == (0, "hello\n", "warn\n")
    attach = daemon.state.find("POST", "/attach")
    assert attach.query["stdin"] == ["1"] and attach.query["detachKeys"] == ["ctrl-a"]
    body = json.loads(daemon.state.find("POST", "/create").body)
    assert body["OpenStdin"] and body["StdinOnce"] and body["AttachStdin"]


def test_run_it_without_a_terminal_creates_nothing(berth, daemon, stdin_file):
    stdin_file(b"")
    code, _, err = berth("run", "-it", "--rm", "busybox", "sh")
    assert (code, err) == (1, "the input device is not a TTY\n")
    assert daemon.state.requests == []


def test_attach_registers_the_wait_first_and_exits_with_the_status(berth, daemon):
    daemon.state.exit_code = 3
    daemon.state.started.set()
    code, out, err = berth("attach", "--no-stdin", "--detach-keys", "ctrl-x,x", "web")
    assert (code, out, err) == (3, "out\n", "err\n")
    assert paths(daemon)[:3] == ["POST /containers/web/wait", "GET /containers/web/json",
                                 f"POST /containers/{CID}/attach"]
    attach = daemon.state.find("POST", "/attach")
    assert "stdin" not in attach.query and attach.query["detachKeys"] == ["ctrl-x,x"]


@pytest.mark.parametrize(("state", "message"), [
    ({"Running": False}, "You cannot attach to a stopped container, start it first"),
    ({"Running": True, "Paused": True},
     "You cannot attach to a paused container, unpause it first"),
])
def test_attach_refuses_containers_not_running(berth, daemon, state, message):
    daemon.state.state = state
    daemon.state.output_done.set()  # lets the fake's pending wait answer
    code, _, err = berth("attach", "web")
    assert (code, err) == (1, message + "\n")


def test_pump_detaches_on_the_keys_and_shuts_the_stream(tmp_path):
    """The stdin thread sees the keys, shuts the socket down both ways, and the output
    copy in this thread ends. (pump installs the proxy only on a raw terminal; the
    compat tests cover that end to end.)"""
    ours, daemons = socket.socketpair()
    read_fd, write_fd = os.pipe()
    stream = HijackedStream(RawStream(ours, b""), "application/vnd.docker.raw-stream")
    from berth.cli.terminal import EscapeProxy

    stream.feed_stdin(read_fd, EscapeProxy(b"\x10\x11").feed)
    os.write(write_fd, b"ab")
    assert daemons.recv(10) == b"ab"
    daemons.sendall(b"output")
    os.write(write_fd, b"\x10\x11")
    out = open(tmp_path / "out", "wb")
    stream.copy_output(out, out, tty=True)
    out.close()
    assert stream.detached and (tmp_path / "out").read_bytes() == b"output"
    assert daemons.recv(10) == b""  # the daemon sees the stream end, not the keys
    for fd in (read_fd, write_fd):
        os.close(fd)
    daemons.close()
    stream.close()


def test_pump_without_stdin_copies_until_the_daemon_closes(tmp_path):
    ours, daemons = socket.socketpair()
    stream = HijackedStream(RawStream(ours, b"early "), "application/vnd.docker.raw-stream")
    sent = threading.Thread(target=lambda: (daemons.sendall(b"late"), daemons.close()))
    sent.start()
    out_path = tmp_path / "out"
    with open(out_path, "w") as out:
        ctx = Context("unix:///nonexistent", "1.45", stdout=out, stderr=out)
        assert pump(ctx, stream, StreamIO(tty=True)) is False
    sent.join()
    assert out_path.read_bytes() == b"early late"
    stream.close()
