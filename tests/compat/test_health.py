"""Healthchecks with the real docker CLI: starting → unhealthy → healthy, in ps, inspect
and events."""

from __future__ import annotations

import time

import docker

from tests.compat.daemon import Daemon, inspect
from tests.compat.test_restart import wait_for


def health(d: Daemon, ref: str) -> dict[str, object]:
    st = inspect(d, ref)["State"]
    assert isinstance(st, dict) and isinstance(st.get("Health"), dict)
    return st["Health"]


def ps_status(d: Daemon, ref: str) -> str:
    return d.docker("ps", "--filter", f"id={ref}", "--format", "{{.Status}}").stdout.strip()


def test_health_goes_starting_unhealthy_healthy(daemon: Daemon) -> None:
    d = daemon
    since = str(time.time())
    cid = d.docker("run", "-d", "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
                   "--health-retries", "2", "--health-timeout", "5s", "busybox", "sh", "-c",
                   "sleep 5; touch /tmp/ok; sleep 600").stdout.strip()
    cfg = inspect(d, cid)["Config"]
    assert isinstance(cfg, dict)
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /tmp/ok"],
                                  "Interval": 1_000_000_000, "Timeout": 5_000_000_000,
                                  "Retries": 2}
    assert health(d, cid)["Status"] == "starting"
    assert ps_status(d, cid).endswith("(health: starting)")

    wait_for(lambda: health(d, cid)["Status"] == "unhealthy", 10, "unhealthy")
    assert ps_status(d, cid).endswith("(unhealthy)")
    h = health(d, cid)
    assert isinstance(h["FailingStreak"], int) and h["FailingStreak"] >= 2
    log = h["Log"]
    assert isinstance(log, list) and log[-1]["ExitCode"] == 1
    assert set(log[-1]) == {"Start", "End", "ExitCode", "Output"}

    wait_for(lambda: health(d, cid)["Status"] == "healthy", 15, "healthy")
    assert ps_status(d, cid).startswith("Up ") and ps_status(d, cid).endswith("(healthy)")
    assert health(d, cid)["FailingStreak"] == 0
    assert len(health(d, cid)["Log"]) <= 5  # type: ignore[arg-type]

    events = d.docker("events", "--since", since, "--until", str(time.time()), "--filter",
                      f"container={cid}", "--filter", "event=health_status", "--format",
                      "{{.Action}}").stdout.splitlines()
    assert events == ["health_status: unhealthy", "health_status: healthy"]

    d.docker("rm", "-f", cid)


def test_image_or_none_healthcheck_and_stop(daemon: Daemon) -> None:
    d = daemon
    cid = d.docker("run", "-d", "--no-healthcheck", "busybox", "sleep", "60").stdout.strip()
    st = inspect(d, cid)["State"]
    assert isinstance(st, dict) and "Health" not in st
    assert not ps_status(d, cid).endswith(")")
    d.docker("rm", "-f", cid)

    cid = d.docker("run", "-d", "--health-cmd", "true", "--health-interval", "1s", "busybox",
                   "sleep", "60").stdout.strip()
    wait_for(lambda: health(d, cid)["Status"] == "healthy", 10, "healthy")
    d.docker("stop", "-t", "0", cid)
    assert health(d, cid)["Status"] == "unhealthy"  # docker: a stopped monitor says so
    d.docker("rm", cid)


def test_invalid_healthcheck_is_400(daemon: Daemon) -> None:
    client = docker.APIClient(base_url=daemon.host)
    resp = client._post_json(client._url("/containers/create"), data={
        "Image": "busybox", "Healthcheck": {"Test": ["CMD", "true"], "Interval": 10}})
    assert resp.status_code == 400
    assert "Interval in Healthcheck cannot be less than 1ms" in resp.json()["message"]
