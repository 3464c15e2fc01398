"""RFC 3339 timestamps with nanoseconds, as docker writes them (``...T02:12:38.123456789Z``)."""

from __future__ import annotations

import calendar
import time


def rfc3339(ts: float | None = None) -> str:
    ts = time.time() if ts is None else ts
    frac = f"{ts % 1:.9f}"[2:]
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{frac}Z"


def parse(stamp: str) -> float:
    """Unix seconds of an RFC 3339 UTC timestamp (``Z`` suffix, optional fraction)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    base = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return base + (float("0." + frac) if frac else 0.0)
