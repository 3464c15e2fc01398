"""RFC 3339 timestamps with nanoseconds, as docker writes them (``...T02:12:38.123456789Z``)."""

from __future__ import annotations

import calendar
import re
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


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}


def parse_point(value: str) -> float:
    """A point in time as docker's filters and since/until take it: a Go duration before
    now ("24h", "1h30m"), unix seconds with an optional fraction, or RFC 3339 UTC.
    Raise ValueError for anything else."""
    if value and _DURATION.sub("", value) == "":
        return time.time() - sum(float(n) * _UNIT_SECONDS[u]
                                 for n, u in _DURATION.findall(value))
    try:
        return float(value)
    except ValueError:
        return parse(value)
