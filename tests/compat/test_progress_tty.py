"""Pull, push and load progress on a terminal, as docker's CLI draws it.

First byte for byte: a scripted daemon on a unix socket answers ``/images/create``,
``/images/<name>/push`` and ``/images/load`` with fixed JSON streams (bars left half drawn,
ids interleaved, ids reused after a plain line), and ``berth`` and the real ``docker`` CLI
each run on a pty of the same size; what each writes to the terminal must be the same
bytes. Then with berthd and a registry: the final screen (tmux ``capture-pane``) of
``berth pull`` and of ``docker pull`` of the same image are the same."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import shutil
import socketserver
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.compat.daemon import BERTH, Daemon, registry_server
from tests.compat.seed import Layer, hello_layer, make_image, push_image
from tests.tarballs import tar_of

A, B, C = "aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"


def _bar(status: str, layer: str, current: int, total: int) -> dict[str, Any]:
    return {"status": status, "id": layer, "progressDetail": {"current": current,
                                                               "total": total},
            "progress": "(the daemon's bar, which a terminal redraws itself)"}


def _step(status: str, layer: str) -> dict[str, Any]:
    return {"status": status, "progressDetail": {}, "id": layer}


PULL = [
    {"status": "Pulling from tty/app", "id": "1"},
    _step("Already exists", A), _step("Pulling fs layer", B), _step("Pulling fs layer", C),
    _step("Waiting", C),
    _bar("Downloading", B, 532, 1024),
    _bar("Downloading", C, 12_345_678, 45_678_901),
    _bar("Downloading", B, 1024, 1024),
    _step("Download complete", B),
    _bar("Extracting", B, 1, 2),
    _step("Pull complete", B),
    _bar("Downloading", C, 45_678_901, 45_678_901),
    _bar("Extracting", C, 2_000_000, 0),  # no total: the bytes only
    {"status": "Digest: sha256:" + "d" * 64},
    _step("Verifying Checksum", C),  # an id after a plain line: a new table of lines
    {"status": "Status: Downloaded newer image for 127.0.0.1:5999/tty/app:1"},
]
PUSH = [
    {"status": "The push refers to repository [127.0.0.1:5999/tty/app]"},
    _step("Preparing", A), _step("Preparing", B), _step("Waiting", B),
    _bar("Pushing", A, 4_200_000, 9_800_000),
    _step("Layer already exists", B),
    {"status": "1: digest: sha256:" + "e" * 64 + " size: 527"},
    {"progressDetail": {}, "aux": {"Tag": "1", "Digest": "sha256:" + "e" * 64, "Size": 527}},
]
LOAD = [
    _bar("Loading layer", A, 5_880_000, 5_880_000),
    _bar("Loading layer", B, 1_000, 3_000),
    {"stream": "Loaded image: tty/app:1\n"},
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Api-Version", "1.45")
        self.send_header("Ostype", "linux")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(b"OK" if self.path == "/_ping" else b"{}")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        elif self.headers.get("Transfer-Encoding") == "chunked":
            while (size := int(self.rfile.readline().strip(), 16)) > 0:
                self.rfile.read(size + 2)
            self.rfile.readline()
        path = self.path.partition("?")[0]
        stream = PUSH if path.endswith("/push") else LOAD if path.endswith("/load") else PULL
        self._reply(b"".join(json.dumps(m).encode() + b"\r\n" for m in stream))

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("local", 0)  # http.server wants a (host, port) client address


@contextlib.contextmanager
def _scripted_daemon(tmp_path: Path) -> Iterator[str]:
    sock = tmp_path / "scripted.sock"
    server = _Server(str(sock), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{sock}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _on_pty(argv: list[str], columns: int, env: dict[str, str]) -> bytes:
    """What ``argv`` writes to a terminal of ``columns`` x 40."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    out = bytearray()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer of the pty has closed it
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert proc.returncode == 0, bytes(out)
    return bytes(out)


@pytest.mark.parametrize("columns", [80, 132])
@pytest.mark.parametrize("verb", [["pull", "127.0.0.1:5999/tty/app:1"],
                                  ["push", "127.0.0.1:5999/tty/app:1"],
                                  ["load", "-i", "ARCHIVE"]])
def test_terminal_bytes_equal_dockers(tmp_path: Path, verb: list[str], columns: int) -> None:
    archive = tmp_path / "x.tar"
    archive.write_bytes(b"\0" * 1024)
    args = [str(archive) if a == "ARCHIVE" else a for a in verb]
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "dockercfg"),
           "DOCKER_CLI_HINTS": "false", "TERM": "xterm"}
    with _scripted_daemon(tmp_path) as host:
        ours = _on_pty([BERTH, "-H", host, *args], columns, env)
        theirs = _on_pty(["docker", "-H", host, *args], columns, env)
    assert ours == theirs, f"\nberth:  {ours!r}\ndocker: {theirs!r}"
    assert b"\x1b[2K\r" in ours  # drawn in place, not line by line
    assert (b"[" + b"=" * 10) in ours if columns > 110 else b"[=" not in ours


@contextlib.contextmanager
def _tmux(tmp_path: Path) -> Iterator[Path]:
    sock = tmp_path / "tmux.sock"
    try:
        yield sock
    finally:
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True,
                       check=False)


def _final_screen(sock: Path, name: str, command: list[str], env: dict[str, str]) -> str:
    """Run ``command`` in a tmux window of 132x40; its screen once it has exited."""
    shell = " ".join(f"'{a}'" for a in command) + "; echo __exit=$?__; sleep 600"
    subprocess.run(["tmux", "-S", str(sock), "new-session", "-d", "-s", name, "-x", "132",
                    "-y", "40", *(f for k, v in env.items() for f in ("-e", f"{k}={v}")),
                    shell], check=True)
    deadline = time.monotonic() + 120
    while True:
        screen = subprocess.run(["tmux", "-S", str(sock), "capture-pane", "-p", "-t", name],
                                capture_output=True, text=True, check=True).stdout
        if "__exit=" in screen:
            break
        assert time.monotonic() < deadline, screen
        time.sleep(0.2)
    subprocess.run(["tmux", "-S", str(sock), "kill-session", "-t", name], check=True)
    assert "__exit=0__" in screen, screen
    return screen.rstrip("\n")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_final_screen_of_a_pull_equals_dockers(fresh_daemon: Daemon, tmp_path: Path) -> None:
    d = fresh_daemon  # its own: no layer of the image may be there already ("Already exists")
    env = {"DOCKER_CONFIG": str(tmp_path / "dockercfg"), "DOCKER_CLI_HINTS": "false"}
    with registry_server(tmp_path / "registry") as registry, _tmux(tmp_path) as sock:
        img = make_image(d, [hello_layer("tty\n"), Layer(tar_of({"big": os.urandom(3 << 20)}))])
        push_image(registry, "tty/app:1", img)
        ref = f"{registry}/tty/app:1"
        screens = {}
        try:
            for cli in ("berth", "docker"):
                program = BERTH if cli == "berth" else "docker"
                screens[cli] = _final_screen(sock, cli, [program, "-H", d.host, "pull", ref],
                                             env)
                d.berth("rmi", ref)
        finally:
            d.berth("rmi", ref, check=False)
    assert screens["berth"] == screens["docker"], screens
    lines = screens["berth"].splitlines()
    assert lines[0] == "1: Pulling from tty/app"
    assert [line.split(": ", 1)[1].strip() for line in lines[1:4]] == \
        ["Pull complete"] * 3
    assert lines[4].startswith("Digest: sha256:")
    assert lines[5] == f"Status: Downloaded newer image for {ref}" and lines[6] == ref
