"""docker exec through the real docker CLI and docker-py, against berthd."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import pytest

from tests.compat.daemon import Daemon


@pytest.fixture
def sleeper(daemon: Daemon) -> Iterator[str]:
    name = f"ex{time.monotonic_ns()}"
    daemon.docker("run", "-d", "--name", name, "-e", "FROM_RUN=1", "busybox", "sleep", "600")
    try:
        yield name
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_docker_exec_output_and_exit_code(daemon: Daemon, sleeper: str) -> None:
    done = daemon.docker("exec", sleeper, "sh", "-c", "echo out; echo err >&2; exit 3",
                         check=False)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert daemon.docker("exec", sleeper, "true").returncode == 0


def test_docker_exec_env_user_workdir(daemon: Daemon, sleeper: str) -> None:
    out = daemon.docker("exec", "-e", "A=1", "-u", "1000:1000", "-w", "/tmp", sleeper,
                        "sh", "-c", "echo $A $FROM_RUN; id -u; id -g; pwd").stdout
    assert out.split() == ["1", "1", "1000", "1000", "/tmp"]
    # The container's user and working dir apply when the exec names none.
    assert daemon.docker("exec", sleeper, "sh", "-c", "id -u; pwd").stdout.split() == [
        "0", "/"]


def test_docker_exec_detached(daemon: Daemon, sleeper: str) -> None:
    assert daemon.docker("exec", "-d", sleeper, "sh", "-c",
                         "sleep 0.2; echo done > /tmp/flag").stdout == ""
    deadline = time.monotonic() + 10
    while daemon.docker("exec", sleeper, "cat", "/tmp/flag", check=False).stdout != "done\n":
        assert time.monotonic() < deadline, "detached exec did not run"
        time.sleep(0.1)


def test_docker_exec_missing_binary_exits_127(daemon: Daemon, sleeper: str) -> None:
    done = daemon.docker("exec", sleeper, "no-such-binary", check=False)
    assert done.returncode == 127


def test_docker_exec_into_stopped_container(daemon: Daemon) -> None:
    daemon.docker("create", "--name", "exstopped", "busybox", "true")
    try:
        done = daemon.docker("exec", "exstopped", "true", check=False)
        assert done.returncode == 1
        assert "is not running" in done.stderr
    finally:
        daemon.docker("rm", "-f", "exstopped", check=False)


def test_docker_exec_into_paused_container(daemon: Daemon, sleeper: str) -> None:
    daemon.docker("pause", sleeper)
    try:
        done = daemon.docker("exec", sleeper, "true", check=False)
        assert done.returncode == 1
        assert "is paused, unpause the container before exec" in done.stderr
    finally:
        daemon.docker("unpause", sleeper)
    assert daemon.docker("exec", sleeper, "echo", "back").stdout == "back\n"


def test_exec_run_output_exit_code_and_demux(client: docker.DockerClient,
                                             sleeper: str) -> None:
    c = client.containers.get(sleeper)
    res = c.exec_run(["sh", "-c", "echo out; exit 4"])
    assert (res.exit_code, res.output) == (4, b"out\n")
    res = c.exec_run(["sh", "-c", "echo out; sleep 0.1; echo err >&2"], demux=True)
    assert (res.exit_code, res.output) == (0, (b"out\n", b"err\n"))
    res = c.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True)
    assert b"".join(res.output) == b"a\nb\n"


def test_exec_run_tty_translates_newlines(client: docker.DockerClient, sleeper: str) -> None:
    res = client.containers.get(sleeper).exec_run(["sh", "-c", "echo one; echo two"], tty=True)
    assert (res.exit_code, res.output) == (0, b"one\r\ntwo\r\n")


def test_exec_run_socket_carries_stdin(client: docker.DockerClient, sleeper: str) -> None:
    res = client.containers.get(sleeper).exec_run(["cat"], stdin=True, socket=True)
    raw: socket.socket = getattr(res.output, "_sock", res.output)
    raw.settimeout(10)
    raw.sendall(b"hello\n")
    raw.shutdown(socket.SHUT_WR)  # stdin EOF ends cat
    data = b""
    while chunk := raw.recv(4096):
        data += chunk
    raw.close()
    assert data == b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n"


def test_fifty_concurrent_execs(daemon: Daemon, sleeper: str) -> None:
    """Through the berth CLI: docker-py's exec_run reads the upgraded stream from the raw
    socket behind http.client's buffer, so output that arrives together with the 101
    headers (a client thread starved among fifty) is lost on the client's side."""

    def one(i: int) -> tuple[int, str]:
        res = daemon.berth("exec", sleeper, "sh", "-c", f"echo {i}; exit {i % 7}",
                           check=False)
        return res.returncode, res.stdout

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    assert results == [(i % 7, f"{i}\n") for i in range(50)]


def test_concurrent_docker_py_execs(client: docker.DockerClient, sleeper: str) -> None:
    c = client.containers.get(sleeper)

    def one(i: int) -> tuple[int, bytes]:
        res = c.exec_run(["sh", "-c", f"sleep 0.2; echo {i}; exit {i % 7}"])
        return res.exit_code, res.output

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(16)))
    assert results == [(i % 7, f"{i}\n".encode()) for i in range(16)]


def test_exec_inspect_shape_and_restart_refused(client: docker.DockerClient,
                                                sleeper: str) -> None:
    api = client.api
    exec_id: str = api.exec_create(sleeper, ["sh", "-c", "exit 2"], user="0")["Id"]
    before: dict[str, Any] = api.exec_inspect(exec_id)
    assert len(exec_id) == 64 and before["ID"] == exec_id
    assert before["Running"] is False and before["ExitCode"] is None
    assert before["ProcessConfig"] == {"tty": False, "entrypoint": "sh",
                                       "arguments": ["-c", "exit 2"], "privileged": False,
                                       "user": "0"}
    assert exec_id in client.containers.get(sleeper).attrs["ExecIDs"]
    api.exec_start(exec_id)
    after = api.exec_inspect(exec_id)
    assert after["ExitCode"] == 2 and after["Running"] is False and after["Pid"] > 0
    with pytest.raises(docker.errors.APIError) as info:
        api.exec_start(exec_id)
    assert info.value.status_code == 409
    with pytest.raises(docker.errors.NotFound):
        api.exec_inspect("0" * 64)
    with pytest.raises(docker.errors.APIError) as bad:
        api.exec_create(sleeper, ["true"], privileged=True)
    assert bad.value.status_code == 400


def test_exec_resize_tty(client: docker.DockerClient, sleeper: str) -> None:
    api = client.api
    exec_id = api.exec_create(sleeper, ["sh", "-c", "sleep 0.5; stty size"], tty=True)["Id"]
    sock = api.exec_start(exec_id, tty=True, socket=True)
    api.exec_resize(exec_id, height=33, width=111)
    raw: socket.socket = getattr(sock, "_sock", sock)
    raw.settimeout(10)
    data = b""
    while chunk := raw.recv(4096):
        data += chunk
    raw.close()
    assert data == b"33 111\r\n"
    with pytest.raises(docker.errors.NotFound):
        api.exec_resize("0" * 64, height=1, width=1)


def test_exec_detach_keys_end_the_connection(client: docker.DockerClient,
                                             sleeper: str) -> None:
    api = client.api
    exec_id = api.exec_create(sleeper, ["sh"], stdin=True, tty=True,
                              detach_keys="ctrl-x,x")["Id"]
    sock = api.exec_start(exec_id, tty=True, socket=True)
    raw: socket.socket = getattr(sock, "_sock", sock)
    raw.settimeout(10)
    raw.sendall(b"\x18x")
    while raw.recv(4096):
        pass  # the daemon closes the connection at the detach sequence
    raw.close()
    assert api.exec_inspect(exec_id)["Running"] is True, "detaching stopped the exec"


def test_resize_of_a_non_tty_exec_is_refused(client: docker.DockerClient, sleeper: str) -> None:
    api = client.api
    exec_id = api.exec_create(sleeper, ["sleep", "2"], tty=False)["Id"]
    api.exec_start(exec_id, detach=True)
    with pytest.raises(docker.errors.APIError) as info:
        api.exec_resize(exec_id, height=10, width=10)
    assert info.value.status_code == 409 and "has no TTY" in str(info.value)
