"""Loop.call_later: timers fire once, in order, bound the select timeout; cancel works."""

from __future__ import annotations

import time

from berth.runtime.shim.loop import Loop


def test_timers_fire_once_and_cancel() -> None:
    loop = Loop()
    fired: list[str] = []
    loop.call_later(0.0, lambda: fired.append("a"))
    cancelled = loop.call_later(0.0, lambda: fired.append("b"))
    loop.cancel(cancelled)
    started = time.monotonic()
    loop.run_once(None)  # no fds: returns because a timer is due, not after forever
    loop.run_once(0)
    assert fired == ["a"]
    assert time.monotonic() - started < 1
