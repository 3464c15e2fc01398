"""top, pause/unpause, restart, rename, container prune and events against the fake
daemon, with docker's output."""

from __future__ import annotations

import io
import json
import time

import pytest

from berth.cli.commands.events import line, timestamp


def test_top_aligns_as_docker(berth, daemon):
    code, out, _ = berth("top", "web", "-o", "pid,comm")
    assert code == 0
    assert out == ("PID                 COMMAND\n"
                   "1                   sh\n"
                   "12345               sleep 100\n")
    assert daemon.state.find("GET", "/top").query == {"ps_args": ["-o pid,comm"]}


@pytest.mark.parametrize("verb", ["pause", "unpause"])
def test_pause_and_unpause_print_each_name(berth, daemon, verb):
    code, out, err = berth(verb, "web", "nosuch")
    assert (code, out) == (1, "web\n")
    assert err == "Error response from daemon: No such container: nosuch\n"
    assert daemon.state.find("POST", f"/web/{verb}")


def test_container_unpause_alias(berth, daemon):
    assert berth("container", "unpause", "web")[:2] == (0, "web\n")
    assert daemon.state.find("POST", "/web/unpause")


def test_restart_passes_timeout_and_signal(berth, daemon):
    assert berth("restart", "-t", "1", "-s", "SIGINT", "web")[:2] == (0, "web\n")
    assert daemon.state.find("POST", "/restart").query == {"t": ["1"], "signal": ["SIGINT"]}


def test_rename(berth, daemon):
    assert berth("rename", "web", "new") == (0, "", "")
    assert daemon.state.find("POST", "/rename").query == {"name": ["new"]}
    code, _, err = berth("rename", "nosuch", "x")
    assert (code, err) == (1, "Error response from daemon: No such container: nosuch\n"
                              "Error: failed to rename container named nosuch\n")


def test_prune_forced(berth, daemon):
    daemon.state.pruned = ["a" * 64, "b" * 64]
    code, out, _ = berth("container", "prune", "-f", "--filter", "until=1h")
    assert code == 0
    assert out == f"Deleted Containers:\n{'a' * 64}\n{'b' * 64}\n\nTotal reclaimed space: 4.096kB\n"
    assert json.loads(daemon.state.find("POST", "/prune").query["filters"][0]) == {
        "until": ["1h"]}


@pytest.mark.parametrize(("answer", "pruned"), [("y\n", True), ("n\n", False), ("", False)])
def test_prune_asks_first(berth, daemon, monkeypatch, answer, pruned):
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    code, out, _ = berth("container", "prune")
    assert code == 0
    prompt = ("WARNING! This will remove all stopped containers.\n"
              "Are you sure you want to continue? [y/N] ")
    assert out == prompt + ("Total reclaimed space: 0B\n" if pruned else "")
    assert bool([r for r in daemon.state.requests if r.path.endswith("/prune")]) == pruned


def test_prune_bad_filter_is_a_flag_error(berth):
    code, _, err = berth("container", "prune", "--filter", "bogus")
    assert code == 125
    assert err.startswith('invalid argument "bogus" for "--filter" flag: bad format of '
                          "filter (expected name=value)\n\nUsage:  berth container prune")


EVENT = {"status": "start", "id": "c" * 64, "from": "busybox", "Type": "container",
         "Action": "start", "Actor": {"ID": "c" * 64,
                                      "Attributes": {"name": "x", "image": "busybox"}},
         "scope": "local", "time": 1795835139, "timeNano": 1795835139760506154}


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_event_line_as_docker(utc):
    assert line(EVENT) == ("2026-11-28T03:05:39.760506154Z container start " + "c" * 64 +
                           " (image=busybox, name=x)\n")


def test_events_stream_with_filters_and_since(berth, daemon, utc):
    daemon.state.events = [EVENT, {**EVENT, "Action": "die", "Actor": {"ID": "d"}}]
    code, out, _ = berth("events", "--since", "1795835000", "--until", "1795836000.5",
                         "--filter", "event=start", "-f", "container=x")
    assert code == 0 and out.splitlines()[1].endswith(" container die d")
    query = daemon.state.find("GET", "/events").query
    assert query["since"] == ["1795835000"] and query["until"] == ["1795836000.5"]
    assert json.loads(query["filters"][0]) == {"event": ["start"], "container": ["x"]}


def test_events_format_sees_go_field_names(berth, daemon):
    daemon.state.events = [EVENT]
    code, out, _ = berth("events", "--format", "{{.Time}} {{.Type}} {{.ID}} {{.Scope}} "
                                               "{{.Actor.Attributes.name}}")
    assert (code, out) == (0, f"1795835139 container {'c' * 64} local x\n")
    code, out, _ = berth("events", "--format", "json")
    assert json.loads(out) == EVENT and out.startswith('{"status":"start","id":')


def test_event_timestamps_as_docker():
    assert timestamp("10m", now=1000.0) == "400"
    assert timestamp("1700000000.5") == "1700000000.5"
    assert timestamp("0") == "0"
    assert timestamp("2026-11-28T03:05:39Z") == "1795835139.000000000"
    assert timestamp("2026-11-28T03:05:39.5+00:00") == "1795835139.500000000"


def test_event_timestamp_errors(berth):
    code, _, err = berth("events", "--since", "xyz")
    assert (code, err) == (1, 'failed to parse value as time or duration: "xyz"\n')
