"""/events: history with since/until, filters, and live delivery, through the docker CLI."""

from __future__ import annotations

import json
import subprocess
import time

from tests.compat.daemon import Daemon


def test_history_with_filters(daemon: Daemon) -> None:
    start = time.time()
    daemon.berth("run", "--rm", "--name", "evt1", "-l", "team=a", "busybox", "true")
    daemon.berth("run", "--rm", "--name", "evt2", "busybox", "true")
    until = str(time.time() + 0.5)
    out = daemon.docker("events", "--since", str(start), "--until", until,
                        "--filter", "container=evt1", "--format", "{{.Action}}").stdout
    assert out.split() == ["create", "attach", "start", "die", "destroy"]
    labelled = daemon.docker("events", "--since", str(start), "--until", until, "--filter",
                             "label=team=a", "--filter", "event=die", "--format",
                             "{{json .}}").stdout.splitlines()
    assert len(labelled) == 1
    ev = json.loads(labelled[0])
    assert ev["Type"] == "container" and ev["Actor"]["Attributes"]["name"] == "evt1"
    assert ev["Actor"]["Attributes"]["exitCode"] == "0"


def test_live_events(daemon: Daemon) -> None:
    watcher = subprocess.Popen(
        ["docker", "-H", daemon.host, "events", "--filter", "event=start", "--format",
         "{{.Actor.Attributes.name}}"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        daemon.berth("run", "--rm", "--name", "live1", "busybox", "true")
        assert watcher.stdout is not None
        assert watcher.stdout.readline().strip() == "live1"
    finally:
        watcher.terminate()
        watcher.wait(10)


def test_bad_filter_is_rejected(daemon: Daemon) -> None:
    bad = daemon.docker("events", "--filter", "nonsense=1", "--until", str(time.time()),
                        check=False)
    assert bad.returncode != 0 and "invalid filter" in bad.stderr


def test_docker_py_events_generator(daemon: Daemon) -> None:
    import docker

    client = docker.DockerClient(base_url=daemon.host, version="1.45")
    try:
        since = time.time()
        daemon.berth("run", "--rm", "--name", "pyev", "busybox", "true")
        events = client.events(since=since, until=time.time() + 0.5, decode=True,
                               filters={"container": "pyev"})
        assert [e["Action"] for e in events] == ["create", "attach", "start", "die", "destroy"]
    finally:
        client.close()


def test_restart_events_in_dockers_order(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "evt-restart", "busybox", "sleep", "60")
    try:
        start = time.time()
        daemon.docker("restart", "-t", "0", "evt-restart")
        out = daemon.docker("events", "--since", str(start), "--until", str(time.time() + 0.5),
                            "--filter", "container=evt-restart", "--format",
                            "{{.Action}}").stdout
        # a "kill" per signal the stop sends: SIGTERM, then SIGKILL (sh as pid 1 ignores it)
        assert out.split() == ["kill", "kill", "die", "stop", "start", "restart"]
    finally:
        daemon.docker("rm", "-f", "evt-restart", check=False)
