"""``berth logs``: the container's log, demultiplexed onto stdout and stderr."""

from __future__ import annotations

import time

from berth.cli.command import Command, Context, StatusError
from berth.cli.flags import Flag, Options
from berth.client import stdcopy
from berth.client.models import LogOptions

COMMAND = Command(
    "logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container",
    (Flag("follow", "f", "bool", help="Follow log output"),
     Flag("since", kind="str", default="", help="Show logs since timestamp (e.g. "
          '"2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
     Flag("tail", "n", "str", "all", "Number of lines to show from the end of the logs"),
     Flag("timestamps", "t", "bool", help="Show timestamps"),
     Flag("until", kind="str", default="", help="Show logs before a timestamp (e.g. "
          '"2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')),
    min_args=1, max_args=1, aliases=("container logs", "logs"))

_DURATION = r"^(?:(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h))+$"
_PART = r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)"
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = r"^\d+(\.\d+)?$"


def timestamp(value: str, name: str, now: float | None = None) -> str:
    """docker's ``GetTimestamp``: a Go duration counts back from now, a date is absolute,
    a number passes through; the daemon takes "seconds.nanoseconds"."""
    if not value:
        return ""
    import datetime as dt  # only --since/--until pay for these imports
    import re

    if re.match(_NUMBER, value):
        return value
    if re.match(_DURATION, value):
        seconds = sum(float(n) * _UNIT[u] for n, u in re.findall(_PART, value))
        return _seconds((time.time() if now is None else now) - seconds)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise StatusError(125, f'invalid value for "{name}": failed to parse value as time '
                               f"or duration: \"{value}\"") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return _seconds(when.timestamp())


def _seconds(value: float) -> str:
    whole = int(value)
    return f"{whole}.{round((value - whole) * 1e9):09d}"


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    doc = ctx.client.containers.inspect(args[0])
    tty = bool((doc.get("Config") or {}).get("Tty"))
    log_opts = LogOptions(follow=opts.follow, timestamps=opts.timestamps, tail=opts.tail,
                          since=timestamp(opts.since, "since"),
                          until=timestamp(opts.until, "until"))
    resp = ctx.client.containers.logs(args[0], log_opts)
    with resp:
        if tty:
            stdcopy.copy_raw(resp, ctx.bout)
        else:
            stdcopy.demux(resp, ctx.bout, ctx.berr)
    return 0
