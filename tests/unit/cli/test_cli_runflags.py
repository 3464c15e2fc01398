"""The run/create flags of issue 3: restart policies, Go durations, healthchecks, --init,
detach keys, and the escape proxy that watches for them."""

from __future__ import annotations

import pytest

from berth.cli.commands.run import COMMAND as RUN
from berth.cli.durations import parse_duration
from berth.cli.flags import UsageError
from berth.cli.runconfig import build_spec, parse_restart_policy
from berth.cli.terminal import EscapeProxy, detach_key_bytes
from berth.client.containerspec import RestartPolicy

S = 1_000_000_000


@pytest.mark.parametrize(("text", "nanos"), [
    ("0", 0), ("1s", S), ("500ms", S // 2), ("1m30s", 90 * S), ("1.5h", 5400 * S),
    ("-1s", -S), ("+2m", 120 * S), (".5s", S // 2), ("1.s", S), ("10us", 10_000),
    ("10\u00b5s", 10_000), ("3ns", 3), ("1h1m1s1ms", 3661 * S + 1_000_000),
    ("2562047h47m16.854775807s", (1 << 63) - 1), ("-2562047h47m16.854775808s", -(1 << 63)),
])
def test_parse_duration_as_go(text, nanos):
    assert parse_duration(text) == nanos


@pytest.mark.parametrize(("text", "message"), [
    ("5", 'time: missing unit in duration "5"'),
    ("1h2x", 'time: unknown unit "x" in duration "1h2x"'),
    ("1s5", 'time: missing unit in duration "1s5"'),
    ("", 'time: invalid duration ""'),
    ("-", 'time: invalid duration "-"'),
    ("s", 'time: invalid duration "s"'),
    (".s", 'time: invalid duration ".s"'),
    ("1S", 'time: unknown unit "S" in duration "1S"'),
    ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
])
def test_parse_duration_errors_as_go(text, message):
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert str(err.value) == message


@pytest.mark.parametrize(("text", "policy"), [
    ("no", RestartPolicy("no")), ("always", RestartPolicy("always")),
    ("on-failure", RestartPolicy("on-failure")), ("on-failure:3", RestartPolicy("on-failure", 3)),
    ("unless-stopped", RestartPolicy("unless-stopped")),
    ("bogus", RestartPolicy("bogus")),  # the daemon judges names, as docker's does
    ("always:3", RestartPolicy("always", 3)),
])
def test_restart_policy(text, policy):
    assert parse_restart_policy(text) == policy


@pytest.mark.parametrize(("text", "message"), [
    ("on-failure:x", "invalid restart policy format: maximum retry count must be an integer"),
    (":3", "invalid restart policy format: no policy provided before colon"),
])
def test_restart_policy_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_restart_policy(text)


def spec_body(*argv: str) -> dict:
    opts, args = RUN.flagset.parse([*argv, "busybox"])
    return build_spec(opts, args, {}, detach=True).to_json()


def test_new_flags_reach_the_create_body():
    body = spec_body("--init", "--restart", "on-failure:2", "--stop-signal", "SIGUSR1",
                     "--stop-timeout", "7", "--health-cmd", "true", "--health-interval",
                     "1m30s", "--health-timeout", "500ms", "--health-retries", "2",
                     "--health-start-period", "1s", "--log-driver", "json-file",
                     "--log-opt", "max-size=1m")
    host = body["HostConfig"]
    assert host["Init"] is True
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert (body["StopSignal"], body["StopTimeout"]) == ("SIGUSR1", 7)
    # as docker sends it: omitempty drops StartInterval
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90 * S,
                                   "Timeout": S // 2, "StartPeriod": S, "Retries": 2}


def test_defaults_leave_init_and_healthcheck_to_the_daemon():
    body = spec_body()
    assert "Init" not in body["HostConfig"] and "Healthcheck" not in body
    assert body["HostConfig"]["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert spec_body("--init=false")["HostConfig"]["Init"] is False


def test_no_healthcheck_disables_and_interval_alone_keeps_the_test():
    assert spec_body("--no-healthcheck")["Healthcheck"] == {"Test": ["NONE"]}
    assert spec_body("--health-interval", "5s")["Healthcheck"] == {"Interval": 5 * S}


@pytest.mark.parametrize(("argv", "message"), [
    (["--rm", "--restart", "always"],
     "conflicting options: cannot specify both --restart and --rm"),
    (["--no-healthcheck", "--health-cmd", "true"],
     "--no-healthcheck conflicts with --health-* options"),
    (["--health-interval=-1s"], "--health-interval cannot be negative"),
    (["--health-retries", "-1"], "--health-retries cannot be negative"),
    (["--health-start-period=-1s"], "--health-start-period cannot be negative"),
    (["--log-driver", "none", "--log-opt", "a=b"], "invalid logging opts for driver none"),
])
def test_runconfig_conflicts(argv, message):
    opts, args = RUN.flagset.parse([*argv, "busybox"])
    with pytest.raises(UsageError) as err:
        build_spec(opts, args, {}, detach=True)
    assert str(err.value) == message


def test_rm_goes_with_restart_no():
    assert spec_body("--rm", "--restart", "no")["HostConfig"]["AutoRemove"] is True


def test_bad_duration_is_a_flag_error():
    with pytest.raises(UsageError) as err:
        RUN.flagset.parse(["--health-interval", "5", "busybox"])
    assert str(err.value) == ('invalid argument "5" for "--health-interval" flag: '
                              'time: missing unit in duration "5"')


@pytest.mark.parametrize(("keys", "want"), [
    ("ctrl-p,ctrl-q", b"\x10\x11"), ("ctrl-x,x", b"\x18x"), ("a", b"a"), ("DEL", b"\x7f"),
    ("ctrl-@", b"\x00"), ("ctrl-_,ctrl-\\", b"\x1f\x1c"), ("ctrl-a,b,ctrl-z", b"\x01b\x1a"),
])
def test_detach_keys(keys, want):
    assert detach_key_bytes(keys) == want


@pytest.mark.parametrize(("keys", "bad"), [
    ("ctrl-foo", "ctrl-foo"), ("bad", "bad"), ("ctrl-p,", ""), ("Ctrl-P", "Ctrl-P"),
    ("del", "del"),
])
def test_detach_keys_errors(keys, bad):
    with pytest.raises(ValueError) as err:
        detach_key_bytes(keys)
    assert str(err.value) == f"Unknown character: '{bad}'"


def test_escape_proxy_detaches_on_keys_typed_one_by_one_or_together():
    proxy = EscapeProxy(b"\x10\x11")
    assert [proxy.feed(b"ls\r"), proxy.feed(b"\x10"), proxy.feed(b"\x11")] == [
        b"ls\r", b"", None]
    assert EscapeProxy(b"\x10\x11").feed(b"\x10\x11") is None


def test_escape_proxy_sends_a_false_start_after_all():
    proxy = EscapeProxy(b"\x18x")
    assert proxy.feed(b"\x18") == b""
    assert proxy.feed(b"y") == b"\x18y"  # not the sequence: both keys go to the container
    assert proxy.feed(b"\x18") == b"" and proxy.feed(b"x") is None


def test_escape_proxy_ignores_the_keys_inside_pasted_text():
    assert EscapeProxy(b"\x10\x11").feed(b"a\x10\x11b") == b"a\x10\x11b"
