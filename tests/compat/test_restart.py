"""Restart policies with the real docker CLI: on-failure limits, backoff, manual stops,
and what a daemon restart starts again."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable

import docker
import pytest

from tests.compat.daemon import Daemon, inspect


def wait_for(check: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def state(d: Daemon, ref: str) -> dict[str, object]:
    st = inspect(d, ref)["State"]
    assert isinstance(st, dict)
    return st


def test_on_failure_restarts_n_times_then_stays_exited(daemon: Daemon) -> None:
    d = daemon
    since = str(time.time())
    cid = d.docker("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c",
                   "exit 3").stdout.strip()
    wait_for(lambda: inspect(d, cid)["RestartCount"] == 2
             and state(d, cid)["Status"] == "exited", what="2 restarts, then exited")
    time.sleep(1)  # no third restart follows
    info = inspect(d, cid)
    assert info["RestartCount"] == 2 and state(d, cid)["ExitCode"] == 3
    events = d.docker("events", "--since", since, "--until", str(time.time()), "--filter",
                      f"container={cid}", "--format", "{{.Action}}").stdout.split()
    assert events.count("start") == 3 and events.count("die") == 3
    d.docker("rm", cid)


def test_always_shows_restarting_and_stop_or_rm_cancel_the_backoff(daemon: Daemon) -> None:
    d = daemon
    cid = d.docker("run", "-d", "--restart", "always", "busybox", "sh", "-c",
                   "exit 1").stdout.strip()

    def restarting_in_ps() -> bool:
        out = d.docker("ps", "-a", "--filter", f"id={cid}", "--format",
                       "{{.Status}}").stdout
        return out.startswith("Restarting (1)")

    def restarting_in_inspect() -> bool:  # as docker shows it; polled like ps: the
        st = state(d, cid)                 # backoff may end between two reads
        return st["Restarting"] is True and st["Running"] is True

    wait_for(restarting_in_ps, what="docker ps: Restarting (1) ...")
    wait_for(restarting_in_inspect, what="inspect: Restarting and Running")
    wait_for(lambda: state(d, cid)["Status"] == "restarting", what="a backoff sleep")
    t0 = time.monotonic()
    d.docker("stop", cid)
    assert time.monotonic() - t0 < 5
    count = inspect(d, cid)["RestartCount"]
    time.sleep(2)
    assert state(d, cid)["Status"] == "exited" and inspect(d, cid)["RestartCount"] == count

    d.docker("start", cid)  # a manual start resets the count, as docker's does
    wait_for(lambda: state(d, cid)["Status"] == "restarting", what="a backoff sleep")
    assert d.docker("rm", cid, check=False).returncode != 0  # restarting: needs -f
    d.docker("rm", "-f", cid)
    assert cid not in d.docker("ps", "-aq", "--no-trunc").stdout


def test_docker_stop_of_an_always_container_stays_stopped(daemon: Daemon) -> None:
    d = daemon
    cid = d.docker("run", "-d", "--restart", "always", "busybox", "sleep", "60").stdout.strip()
    d.docker("stop", "-t", "1", cid)
    time.sleep(1.5)
    assert state(d, cid)["Status"] == "exited" and inspect(d, cid)["RestartCount"] == 0
    d.docker("rm", cid)


def test_kill_with_another_signal_still_restarts_always(daemon: Daemon) -> None:
    d = daemon
    cid = d.docker("run", "-d", "--restart", "always", "busybox", "sh", "-c",
                   "trap 'exit 5' HUP; while true; do sleep 0.1; done").stdout.strip()
    time.sleep(0.5)
    d.docker("kill", "-s", "HUP", cid)
    wait_for(lambda: inspect(d, cid)["RestartCount"] == 1
             and state(d, cid)["Running"] is True, what="a restart after SIGHUP")
    d.docker("rm", "-f", cid)


def test_invalid_policies_are_400(daemon: Daemon) -> None:
    client = docker.APIClient(base_url=daemon.host)
    for policy, auto_remove, message in (
            ({"Name": "sometimes"}, False, "invalid restart policy: unknown policy"),
            ({"Name": "always"}, True, "can't create 'AutoRemove' container with restart"),
            ({"Name": "always", "MaximumRetryCount": 2}, False, "can only be used with")):
        with pytest.raises(docker.errors.APIError) as err:
            client.create_container("busybox", "true", host_config=client.create_host_config(
                restart_policy=policy, auto_remove=auto_remove))
        assert err.value.status_code == 400 and message in str(err.value.explanation)


def test_daemon_restart_starts_always_and_unless_stopped_ones(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    run = ("run", "-d", "busybox", "sleep", "600")
    always_up = d.docker("run", "-d", "--restart", "always", *run[2:]).stdout.strip()
    always_stopped = d.docker("run", "-d", "--restart", "always", *run[2:]).stdout.strip()
    unless_stopped = d.docker("run", "-d", "--restart", "unless-stopped",
                              *run[2:]).stdout.strip()
    unless_killed = d.docker("run", "-d", "--restart", "unless-stopped",
                             *run[2:]).stdout.strip()
    plain = d.docker(*run).stdout.strip()
    d.docker("stop", "-t", "0", always_stopped, unless_stopped)
    pid = state(d, always_up)["Pid"]
    killed_pid = state(d, unless_killed)["Pid"]
    plain_pid = state(d, plain)["Pid"]
    assert isinstance(killed_pid, int) and isinstance(plain_pid, int)

    d.stop(signal.SIGTERM)
    os.kill(killed_pid, signal.SIGKILL)  # exits while no daemon runs
    os.kill(plain_pid, signal.SIGKILL)
    time.sleep(0.5)
    d.start()

    assert state(d, always_up)["Pid"] == pid, "live restore: the same process"
    wait_for(lambda: state(d, always_stopped)["Running"] is True,
             what="always: started at daemon start even after docker stop")
    wait_for(lambda: state(d, unless_killed)["Running"] is True
             and state(d, unless_killed)["Pid"] != killed_pid,
             what="unless-stopped that died on its own: restarted")
    assert inspect(d, unless_killed)["RestartCount"] == 1
    time.sleep(1)
    assert state(d, unless_stopped)["Status"] == "exited", "the manual stop is remembered"
    assert state(d, plain)["Status"] == "exited"
    rec = json.loads(d.docker("inspect", unless_stopped).stdout)[0]
    assert rec["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


def test_a_stop_racing_an_exit_always_wins(daemon: Daemon) -> None:
    """A stop that arrives while an ``always`` container's exit is being recorded (the
    shim is gone, the record still says running) or while its restart is being scheduled
    must leave it exited: it waits for the exit's outcome, then cancels the restart."""
    client = docker.DockerClient(base_url=daemon.host)
    try:
        box = client.containers.create("busybox", ["sh", "-c", "exit 1"],
                                       restart_policy={"Name": "always"})
        for i in range(25):
            box.start()
            time.sleep(i % 5 * 0.004)  # land anywhere around the exit
            box.stop(timeout=1)
            time.sleep(0.3)  # a restart that slipped through would have started by now
            box.reload()
            assert box.status == "exited", (i, box.attrs["State"])
        box.remove(force=True)
    finally:
        client.close()
