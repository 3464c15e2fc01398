"""OutputPump: what an exited process left in its pipes reaches the clients even when the
drain grace ran out before the loop could read it (a shim busy starting fifty execs)."""

from __future__ import annotations

import os

from berth.formats.stdcopy import STDERR, STDOUT
from berth.runtime.shim.loop import Loop
from berth.runtime.shim.streams import SALVAGE_LIMIT, OutputPump, ProcessIO


class Hub:
    def __init__(self) -> None:
        self.got: list[tuple[int, bytes]] = []

    def broadcast(self, stream: int, data: bytes) -> None:
        self.got.append((stream, data))


def test_close_forwards_what_the_pipes_still_hold() -> None:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    hub = Hub()
    pump = OutputPump(Loop(), ProcessIO({out_r: "stdout", err_r: "stderr"}, None, None),
                      hub, None, lambda: None)  # type: ignore[arg-type]
    os.write(out_w, b"0\n")
    os.write(err_w, b"e" * 60_000)  # (a pipe holds 64 KiB)
    os.close(out_w)  # stdout's writer is gone; stderr's escaped writer keeps its end
    pump.close()
    assert pump.drained
    assert b"".join(d for s, d in hub.got if s == STDOUT) == b"0\n"
    assert b"".join(d for s, d in hub.got if s == STDERR) == b"e" * 60_000
    os.close(err_w)  # (the read end is closed: the escaped writer's later output is lost)


def test_salvage_is_bounded_for_a_writer_that_never_stops() -> None:
    r, w = os.pipe()
    os.set_blocking(w, False)
    hub = Hub()
    pump = OutputPump(Loop(), ProcessIO({r: "stdout"}, None, None), hub, None,
                      lambda: None)  # type: ignore[arg-type]
    written = 0
    try:
        while written < 2 * SALVAGE_LIMIT:  # fill the pipe; it holds far less than this
            written += os.write(w, b"x" * 65536)
    except BlockingIOError:
        pass
    pump.close()
    assert 0 < sum(len(d) for _, d in hub.got) <= SALVAGE_LIMIT
    os.close(w)
