"""``berth events [--since T] [--until T] [--filter K=V] [--format F]``: the daemon's
event stream, printed as each event arrives. docker's default line::

    2026-11-28T02:12:38.123456789Z container start <id> (image=busybox, name=x)

(local time, nanoseconds, attributes sorted by key). ``--since``/``--until`` take what
docker's ``timetypes.GetTimestamp`` does: a Go duration before now ("10m"), a unix
timestamp ("1700000000.5"), or an RFC 3339 date or date-time.
"""

from __future__ import annotations

import time

from berth.cli.command import Command, Context, StatusError
from berth.cli.commands.ps import parse_filters
from berth.cli.durations import parse_duration
from berth.cli.flags import Flag, Options, filter_pair

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.api.types import responses as wire

COMMAND = Command(
    "events", "[OPTIONS]", "Get real time events from the server",
    (Flag("filter", "f", "list", help="Filter output based on conditions provided",
          convert=filter_pair, metavar="filter"),
     Flag("format", kind="str", default="", help="Format output using a custom template"),
     Flag("since", kind="str", default="", help="Show all events created since timestamp"),
     Flag("until", kind="str", default="", help="Stream events until this timestamp")),
    max_args=0, aliases=("system events", "events"))

# The Go field names a template sees, and the JSON keys the daemon sends them under.
_GO_FIELDS = {"Status": "status", "ID": "id", "From": "from", "Scope": "scope",
              "Time": "time", "TimeNano": "timeNano"}


class Event(dict[str, object]):
    """An event for templates: ``.Time``/``.ID`` find the JSON's ``time``/``id`` (and a
    missing field is Go's zero value), while ``{{json .}}`` prints the JSON as sent."""

    def get(self, key: str, default: object = None) -> object:
        name = _GO_FIELDS.get(key, key)
        if name in self:
            return self[name]
        if key in _GO_FIELDS or key in ("Type", "Action"):
            return 0 if key.startswith("Time") else ""
        return default


def timestamp(value: str, now: float | None = None) -> str:
    """docker's ``GetTimestamp``: what ``since``/``until`` are sent as."""
    now = time.time() if now is None else now
    if value != "0":
        try:
            return str(int(now - parse_duration(value) / 1e9))
        except ValueError:
            pass  # not a duration: a date or a timestamp
    if "-" in value[1:] or "T" in value:
        from datetime import datetime  # only dates need it

        try:
            when = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError as err:
            raise StatusError(1, f"parsing time {value!r}: {err}") from err
        seconds = int(when.timestamp())
        return f"{seconds}.{when.microsecond * 1000:09d}"
    whole, _, fraction = value.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise StatusError(1, f'failed to parse value as time or duration: "{value}"')
    return value


def line(event: wire.EventMessage) -> str:
    """docker's ``printOutput``."""
    nanos = event.get("timeNano") or (event.get("time") or 0) * 1_000_000_000
    head = ""
    if nanos:
        seconds, fraction = divmod(int(nanos), 1_000_000_000)
        local = time.localtime(seconds)
        offset = local.tm_gmtoff or 0
        zone = "Z" if offset == 0 else (
            f"{'+' if offset > 0 else '-'}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}")
        head = f"{time.strftime('%Y-%m-%dT%H:%M:%S', local)}.{fraction:09d}{zone} "
    actor = event.get("Actor") or {}
    text = f"{head}{event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}"
    attributes = actor.get("Attributes") or {}
    if attributes:
        text += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    return text + "\n"


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    template = None
    if opts.format:
        from berth.cli import template as templates

        try:
            template = templates.Template(templates.final_format(opts.format))
        except templates.TemplateError as err:
            raise StatusError(64, f"template parsing error: {err}") from err
    stream = ctx.client.events(
        since=timestamp(opts.since) if opts.since else "",
        until=timestamp(opts.until) if opts.until else "",
        filters=parse_filters(opts.filter))
    for event in stream:
        if template is None:
            ctx.stdout.write(line(event))
        else:
            ctx.stdout.write(template.render(Event(event)) + "\n")
        ctx.stdout.flush()  # a stream: each event shows when it happens
    return 0
