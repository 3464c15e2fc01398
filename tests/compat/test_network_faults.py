"""Faults around networking, each on a berthd of its own: a container killed -9, berthd
stopped (SIGTERM) or killed (-9) while containers publish ports (the ports keep answering
while it is down, and after it restarts the rules are not duplicated), a container that
dies while berthd is down (its rules reconciled away at start), and berthd killed in the
middle of ``docker run -p``: no leaked veths, rules, addresses or namespaces; the next run
works."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.compat import netstate
from tests.compat.daemon import Daemon
from tests.compat.netserve import fetch, fetch_eventually, free_ports, httpd_argv, listening


def _serve(d: Daemon, ref: str, port: int, body: str) -> str:
    d.docker("run", "-d", "-p", f"127.0.0.1:{port}:8080", "--name", ref, "busybox",
             *httpd_argv(body, 8080))
    assert fetch_eventually(port) == body
    return d.docker("inspect", "-f", "{{.Id}}", ref).stdout.strip()


def _gone(d: Daemon, cid: str, port: int) -> None:
    """Nothing of the container's networking is left, and its host port is free."""
    assert netstate.container_rules(d.chain_prefix, cid) == []
    assert not (d.exec_root / "netns" / cid).exists()
    running = d.docker("ps", "-q").stdout.split()
    assert len(netstate.veths_on({d.bridge})) == len(running)
    with listening(port):
        pass


def _until(check: object, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_container_killed_9_releases_its_networking(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    port = free_ports()
    cid = _serve(d, "victim", port, "victim")
    assert netstate.container_rules(d.chain_prefix, cid)
    d.docker("kill", "-s", "KILL", "victim")
    _until(lambda: d.docker("inspect", "-f", "{{.State.Running}}", "victim").stdout.strip()
           == "false")
    _until(lambda: not netstate.container_rules(d.chain_prefix, cid))
    _gone(d, cid, port)
    _serve(d, "next", port, "next-one")  # the same host port works again


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_published_ports_outlive_berthd(fresh_daemon: Daemon, sig: int) -> None:
    d = fresh_daemon
    port = free_ports()
    _serve(d, "steady", port, "still-here")
    before = sorted(netstate.rules(d.chain_prefix))
    d.stop(sig)
    assert fetch(port) == "still-here", "published port answers while berthd is down"
    d.start()
    assert fetch_eventually(port) == "still-here"
    assert sorted(netstate.rules(d.chain_prefix)) == before, "no duplicated or lost rules"
    d.docker("rm", "-f", "steady")
    assert netstate.dnat_rules(d.chain_prefix) == []


def test_container_dead_while_berthd_is_down_is_reconciled(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    port = free_ports()
    cid = _serve(d, "orphan", port, "orphaned")
    pid = int(d.docker("inspect", "-f", "{{.State.Pid}}", "orphan").stdout)
    d.stop()
    subprocess.run(["kill", "-KILL", str(pid)], check=True)
    time.sleep(0.5)
    d.start()
    _until(lambda: d.docker("inspect", "-f", "{{.State.Status}}", "orphan").stdout.strip()
           == "exited")
    _gone(d, cid, port)
    d.docker("start", "orphan")
    assert fetch_eventually(port) == "orphaned"


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_berthd_killed_mid_run(fresh_daemon: Daemon, delay: float) -> None:
    d = fresh_daemon
    port = free_ports()
    run = subprocess.Popen(["docker", "-H", d.host, "run", "-d", "-p",
                            f"127.0.0.1:{port}:8080", "--name", "midway", "busybox",
                            *httpd_argv("midway", 8080)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(delay)
        d.stop(signal.SIGKILL)
    finally:
        run.wait(30)
    d.start()
    d.docker("rm", "-f", "midway", check=False)
    # everything of that container is gone, whatever state it was caught in
    assert netstate.dnat_rules(d.chain_prefix) == []
    assert netstate.veths_on({d.bridge}) == []
    netns = d.exec_root / "netns"
    assert not netns.exists() or list(netns.iterdir()) == []
    with listening(port):
        pass
    _serve(d, "after", port, "after-crash")
