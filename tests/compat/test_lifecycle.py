"""pause/unpause, top, rename, prune, resize, --init and detach keys, driven by the real
docker CLI and docker-py against berthd."""

from __future__ import annotations

import json
import socket
import time

import docker
import pytest

from tests.compat.daemon import Daemon

COUNTER = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done"


def _state(daemon: Daemon, ref: str) -> dict[str, object]:
    state: dict[str, object] = json.loads(daemon.docker("inspect", ref).stdout)[0]["State"]
    return state


def _lines(daemon: Daemon, ref: str) -> int:
    return daemon.docker("logs", ref).stdout.count("\n")


def _wait_for(predicate: object, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_pause_freezes_and_unpause_resumes(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "counter", "busybox", "sh", "-c", COUNTER)
    try:
        _wait_for(lambda: _lines(daemon, "counter") > 2, "counter did not start")
        daemon.docker("pause", "counter")
        state = _state(daemon, "counter")
        assert state["Status"] == "paused" and state["Paused"] is True
        assert state["Running"] is True
        status = daemon.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
        assert any(line.startswith("counter Up") and line.endswith("(Paused)")
                   for line in status.splitlines()), status
        frozen = _lines(daemon, "counter")
        time.sleep(0.5)
        assert _lines(daemon, "counter") == frozen, "a paused counter advanced"
        again = daemon.docker("pause", "counter", check=False)
        assert again.returncode == 1 and "is already paused" in again.stderr
        daemon.docker("unpause", "counter")
        assert _state(daemon, "counter")["Status"] == "running"
        _wait_for(lambda: _lines(daemon, "counter") > frozen + 2, "unpause did not resume")
        not_paused = daemon.docker("unpause", "counter", check=False)
        assert not_paused.returncode == 1 and "is not paused" in not_paused.stderr
    finally:
        daemon.docker("rm", "-f", "counter", check=False)


@pytest.mark.parametrize("verb", [("stop", "-t", "1"), ("kill",), ("rm", "-f")])
def test_stop_kill_rm_of_a_paused_container(daemon: Daemon, verb: tuple[str, ...]) -> None:
    daemon.docker("run", "-d", "--name", "frozen", "busybox", "sleep", "600")
    try:
        daemon.docker("pause", "frozen")
        daemon.docker(*verb, "frozen", timeout=30)
        if verb[0] != "rm":
            state = _state(daemon, "frozen")
            assert state["Status"] == "exited" and state["Paused"] is False
        else:
            assert daemon.docker("ps", "-aq", "--filter", "name=frozen").stdout == ""
    finally:
        daemon.docker("rm", "-f", "frozen", check=False)


def test_pause_of_a_stopped_container_is_refused(daemon: Daemon) -> None:
    daemon.docker("create", "--name", "cold", "busybox", "true")
    try:
        done = daemon.docker("pause", "cold", check=False)
        assert done.returncode == 1 and "is not running" in done.stderr
    finally:
        daemon.docker("rm", "-f", "cold", check=False)


def test_top_lists_the_containers_processes(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "topped", "busybox", "sh", "-c",
                  "sleep 601 & sleep 602; echo done")
    try:
        _wait_for(lambda: "sleep 602" in daemon.docker("top", "topped").stdout,
                  "top did not show the processes")
        out = daemon.docker("top", "topped").stdout.splitlines()
        assert out[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        commands = [line.split(None, 7)[7] for line in out[1:]]
        assert sorted(commands) == ["sh -c sleep 601 & sleep 602; echo done", "sleep 601",
                                    "sleep 602"]
        aux = daemon.docker("top", "topped", "aux").stdout.splitlines()
        assert aux[0].split()[:3] == ["USER", "PID", "%CPU"] and len(aux) == 4
        daemon.docker("kill", "topped")
        stopped = daemon.docker("top", "topped", check=False)
        assert stopped.returncode == 1 and "is not running" in stopped.stderr
    finally:
        daemon.docker("rm", "-f", "topped", check=False)


def test_rename(daemon: Daemon) -> None:
    since = str(time.time())
    cid = daemon.docker("create", "--name", "before", "busybox", "true").stdout.strip()
    daemon.docker("create", "--name", "taken", "busybox", "true")
    try:
        daemon.docker("rename", "before", "after")
        assert json.loads(daemon.docker("inspect", cid).stdout)[0]["Name"] == "/after"
        assert daemon.docker("inspect", "before", check=False).returncode == 1
        clash = daemon.docker("rename", "after", "taken", check=False)
        assert clash.returncode == 1 and "is already in use" in clash.stderr
        bad = daemon.docker("rename", "after", "bad/name", check=False)
        assert bad.returncode == 1 and "Invalid container name" in bad.stderr
        events = daemon.docker("events", "--since", since, "--until", str(time.time()),
                               "--filter", "event=rename", "--format",
                               "{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}")
        assert events.stdout == "/before after\n"
    finally:
        daemon.docker("rm", "-f", cid, "taken", check=False)


def test_container_prune(daemon: Daemon) -> None:
    old = daemon.docker("run", "--label", "prune=yes", "busybox", "true").stdout
    assert old == ""
    gone = daemon.docker("ps", "-aq", "--no-trunc", "--filter", "label=prune=yes").stdout.split()
    kept = daemon.docker("create", "--label", "prune=no", "busybox", "true").stdout.strip()
    running = daemon.docker("run", "-d", "--label", "prune=yes", "busybox",
                            "sleep", "600").stdout.strip()
    try:
        out = daemon.docker("container", "prune", "-f", "--filter", "label=prune=yes").stdout
        assert out.startswith("Deleted Containers:\n" + "\n".join(gone) + "\n")
        assert "Total reclaimed space:" in out
        left = daemon.docker("ps", "-aq", "--no-trunc").stdout.split()
        assert kept in left and running in left and not set(gone) & set(left)
    finally:
        daemon.docker("rm", "-f", kept, running, check=False)


# The background sleep is orphaned when its subshell exits, so PID 1 must reap it.
ZOMBIE_MAKER = "(sleep 0.2 &); exec sleep 100"


def _zombies(daemon: Daemon, ref: str) -> int:
    stats = daemon.docker("exec", ref, "sh", "-c", "cat /proc/[0-9]*/stat").stdout
    return sum(1 for line in stats.splitlines() if line.split(") ", 1)[1].startswith("Z"))


def test_init_runs_docker_init_and_reaps_zombies(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "noinit", "busybox", "sh", "-c", ZOMBIE_MAKER)
    daemon.docker("run", "-d", "--init", "--name", "withinit", "busybox", "sh", "-c",
                  ZOMBIE_MAKER)
    try:
        time.sleep(1)
        cmdline = daemon.docker("exec", "withinit", "cat", "/proc/1/cmdline").stdout
        assert cmdline.split("\0")[:3] == ["/sbin/docker-init", "--", "sh"]
        assert json.loads(daemon.docker("inspect", "withinit").stdout)[0][
            "HostConfig"]["Init"] is True
        assert _zombies(daemon, "noinit") == 1, "the control case left no zombie"
        assert _zombies(daemon, "withinit") == 0
    finally:
        daemon.docker("rm", "-f", "noinit", "withinit", check=False)


def test_resize_reaches_the_containers_tty(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "while true; do stty size; sleep 0.1; done"],
                              tty=True, detach=True)
    try:
        c.resize(height=31, width=101)
        _wait_for(lambda: b"31 101" in c.logs(), "the resize did not reach the tty")
        plain = client.containers.run("busybox", ["sleep", "600"], detach=True)
        with pytest.raises(docker.errors.APIError) as no_tty:
            plain.resize(height=10, width=10)  # no tty: a clear error, nothing changed
        assert no_tty.value.status_code == 409 and "has no TTY" in str(no_tty.value)
        plain.remove(force=True)
        c.kill()
        c.wait(timeout=30)
        with pytest.raises(docker.errors.APIError) as info:
            c.resize(height=1, width=1)
        assert info.value.status_code == 409
    finally:
        c.remove(force=True)


def test_attach_detach_keys_keep_the_container_running(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sh"], tty=True, stdin_open=True, detach=True)
    try:
        with pytest.raises(docker.errors.APIError) as bad:
            client.api.attach_socket(c.id, params={"stdin": 1, "stream": 1,
                                                   "detachKeys": "ctrl-nope"})
        assert bad.value.status_code == 400
        assert "Invalid detach keys (ctrl-nope) provided" in str(bad.value)
        sock = client.api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        raw: socket.socket = getattr(sock, "_sock", sock)
        raw.settimeout(10)
        raw.sendall(b"echo still here\n")
        time.sleep(0.3)
        raw.sendall(b"\x10\x11")  # ctrl-p ctrl-q
        data = b""
        while chunk := raw.recv(4096):
            data += chunk  # the daemon ends the connection at the sequence
        raw.close()
        assert b"still here" in data
        time.sleep(0.3)
        c.reload()
        assert c.status == "running"
    finally:
        c.remove(force=True)
