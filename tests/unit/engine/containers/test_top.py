"""moby's ps output parsing for ``top``."""

from __future__ import annotations

import pytest

from berth.engine.containers.top import parse
from berth.errors import BerthError

PS = """UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         412       1  0 10:01 ?        00:00:00 sh -c sleep 100 & wait
root         413     412  0 10:01 ?        00:00:00 sleep 100
root         999       1  0 10:01 ?        00:00:00 other thing
"""


def test_keeps_the_containers_rows_and_the_whole_command() -> None:
    table = parse(PS, {412, 413})
    assert table.titles == ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")
    assert [row[1] for row in table.processes] == ["412", "413"]
    assert table.processes[0][-1] == "sh -c sleep 100 & wait"


def test_thread_rows_follow_a_kept_process() -> None:
    ps = "PID TID CMD\n412 - sh\n- 412 -\n999 - x\n- 999 -\n"
    assert [row[0] for row in parse(ps, {412}).processes] == ["412", "-"]


def test_output_without_a_pid_column_is_an_error() -> None:
    with pytest.raises(BerthError, match="Couldn't find PID field"):
        parse("USER CMD\nroot sh\n", {1})
