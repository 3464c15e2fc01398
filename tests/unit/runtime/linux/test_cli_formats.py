"""berth-runtime's runc-shaped output, without a container: log lines, tables, times,
sizes, durations and the rootless spec."""

from __future__ import annotations

import json
import logging

import pytest

from berth.runtime.linux import cli_log
from berth.runtime.linux.cli_events import parse_duration
from berth.runtime.linux.cli_log import CommandError, JsonFormatter, TextFormatter, go_json
from berth.runtime.linux.cli_query import tabwrite
from berth.runtime.linux.cli_spec import default_spec
from berth.runtime.linux.cli_update import _non_zero, ram_in_bytes
from berth.runtime.linux.state import rfc3339_nano


def _record(msg: str, level: int = logging.ERROR) -> logging.LogRecord:
    record = logging.LogRecord("berth", level, __file__, 1, msg, None, None)
    record.created = 1_796_470_400.25  # 2026-12-05T11:33:20Z
    return record


def test_text_lines_quote_as_logrus():
    fmt = TextFormatter()
    assert fmt.format(_record("container does not exist")) == (
        'time="2026-12-05T11:33:20Z" level=error msg="container does not exist"')
    assert fmt.format(_record("bare-word/ok", logging.DEBUG)).endswith(
        "level=debug msg=bare-word/ok")
    assert fmt.format(_record('exec: "x": not found')).endswith(
        r'msg="exec: \"x\": not found"')


def test_json_lines_are_logrus_json():
    line = JsonFormatter().format(_record("a <b> & c", logging.WARNING))
    assert line == ('{"level":"warning","msg":"a \\u003cb\\u003e \\u0026 c",'
                    '"time":"2026-12-05T11:33:20Z"}')
    assert json.loads(line)["msg"] == "a <b> & c"
    assert go_json(None) == "null"


def test_unknown_log_format_is_refused():
    berth = logging.getLogger("berth")
    saved = (list(berth.handlers), berth.level, berth.propagate)
    try:
        with pytest.raises(CommandError, match="invalid log-format: xml"):
            cli_log.setup(None, "xml", False)
    finally:  # setup configures the process's "berth" logger: give it back
        berth.handlers[:] = saved[0]
        berth.setLevel(saved[1])
        berth.propagate = saved[2]


def test_tabwriter_as_go():
    rows = [["ID", "PID", "STATUS"], ["c1", "123", "running"]]
    assert tabwrite(rows) == "ID          PID         STATUS\nc1          123         running\n"
    wide = [["ID", "X"], ["a-very-long-container-id", "1"]]
    assert tabwrite(wide).splitlines()[0] == "ID" + " " * 25 + "X"


@pytest.mark.parametrize(("iso", "go"), [
    ("2026-12-05T11:32:35.342960+00:00", "2026-12-05T11:32:35.34296Z"),
    ("2026-12-05T11:32:35+00:00", "2026-12-05T11:32:35Z"),
    ("2026-12-05T13:32:35.5+02:00", "2026-12-05T11:32:35.5Z"),
])
def test_created_as_rfc3339_nano(iso, go):
    assert rfc3339_nano(iso) == go


@pytest.mark.parametrize(("text", "size"), [("10M", 10 << 20), ("64m", 64 << 20),
                                            ("1g", 1 << 30), ("512", 512), ("2KiB", 2048),
                                            ("1.5k", 1536)])
def test_ram_in_bytes_as_go_units(text, size):
    assert ram_in_bytes(text) == size


def test_bad_size_is_runc_words():
    with pytest.raises(CommandError, match="invalid value for memory: invalid size: '10X'"):
        ram_in_bytes("10X")


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5.0), ("100ms", 0.1), ("1m30s", 90.0)])
def test_durations_as_go(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5x", "-1s", "0s"])
def test_bad_durations(text):
    with pytest.raises(CommandError):
        parse_duration(text)


def test_update_leaves_zero_values_alone():
    assert _non_zero({"memory": {"limit": 0, "swap": -1}, "cpu": {"cpus": "", "shares": 0},
                      "pids": {"limit": 5}}) == {"memory": {"swap": -1}, "pids": {"limit": 5}}


def test_rootless_spec_as_runc():
    spec = default_spec(rootless=True)
    assert [ns["type"] for ns in spec["linux"]["namespaces"]] == ["pid", "ipc", "uts", "mount",
                                                                 "user"]
    assert list(spec["linux"]) == ["uidMappings", "gidMappings", "namespaces", "maskedPaths",
                                   "readonlyPaths"]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {"destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    assert not any(o.startswith("gid=") for m in spec["mounts"] for o in m.get("options", []))
    assert default_spec()["linux"]["resources"] == {"devices": [{"allow": False,
                                                                 "access": "rwm"}]}
