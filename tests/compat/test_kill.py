"""docker kill: with SIGKILL (the default) it returns once the container has stopped, as
moby's Kill waits for the exit; with any other signal it returns at once."""

from __future__ import annotations

import json
import time

import docker

from tests.compat.daemon import Daemon


def test_docker_kill_then_rm_succeeds_at_once(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "killed", "busybox", "sleep", "600")
    try:
        daemon.docker("kill", "killed")
        state = json.loads(daemon.docker("inspect", "killed").stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 137, state
        daemon.docker("rm", "killed")
    finally:
        daemon.docker("rm", "-f", "killed", check=False)


def test_sigkill_returns_after_the_exit(client: docker.DockerClient) -> None:
    for _ in range(5):  # each time, the answer comes after the exit, not just before it
        c = client.containers.run("busybox", ["sleep", "600"], detach=True)
        try:
            client.api.kill(c.id)
            state = client.api.inspect_container(c.id)["State"]
            assert not state["Running"] and state["ExitCode"] == 137, state
            client.api.remove_container(c.id)
        finally:
            if _exists(client, c.id):
                client.api.remove_container(c.id, force=True)


def test_other_signals_return_at_once(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "trap '' TERM; echo ready; "
                                          "while true; do sleep 0.1; done"], detach=True)
    try:
        deadline = time.monotonic() + 10
        while b"ready" not in c.logs():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        client.api.kill(c.id, signal="SIGTERM")  # ignored: the container keeps running
        assert time.monotonic() - started < 5
        assert client.api.inspect_container(c.id)["State"]["Running"]
    finally:
        c.remove(force=True)


def _exists(client: docker.DockerClient, cid: str) -> bool:
    try:
        client.api.inspect_container(cid)
    except docker.errors.NotFound:
        return False
    return True
