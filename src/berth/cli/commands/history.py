"""``berth image history [--no-trunc] [-q] [-H=false] [--format T] IMAGE`` /
``berth history``: docker's ``historyContext`` table, newest layer first."""

from __future__ import annotations

import time

from berth.cli.command import Command
from berth.cli.flags import Flag
from berth.cli.output import ellipsis, human_size, render, since, truncate_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.api.types import responses as wire
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "history", "[OPTIONS] IMAGE", "Show the history of an image",
    (Flag("format", kind="str", default="", help="Format output using a custom template"),
     Flag("human", "H", "bool", True, "Print sizes and dates in human readable format"),
     Flag("no-trunc", kind="bool", help="Don't truncate output"),
     Flag("quiet", "q", "bool", help="Only show image IDs")),
    min_args=1, max_args=1, aliases=("image history", "history"))

HUMAN = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
RAW = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
           "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


def rfc3339(ts: int) -> str:
    """Go's ``time.Unix(ts, 0).Format(time.RFC3339)`` in local time."""
    when = time.localtime(ts)
    offset = when.tm_gmtoff or 0
    zone = "Z" if offset == 0 else \
        f"{'+' if offset > 0 else '-'}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", when) + zone


def row(item: wire.HistoryResponseItem, trunc: bool, human: bool) -> dict[str, Any]:
    created = int(item.get("Created") or 0)
    created_by = str(item.get("CreatedBy") or "").replace("\t", " ")
    size = int(item.get("Size") or 0)
    ident = str(item.get("Id") or "")
    return {
        "ID": truncate_id(ident) if trunc else ident,
        "CreatedAt": rfc3339(created),
        "CreatedSince": since(created) if human else rfc3339(created),
        "CreatedBy": ellipsis(created_by, 45) if trunc else created_by,
        "Size": human_size(size) if human else str(size),
        "Comment": str(item.get("Comment") or ""),
        "Tags": item.get("Tags") or [],
    }


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    items = ctx.client.images.history(args[0])
    fmt = opts.format
    if not fmt or fmt == "table":
        fmt = "{{.ID}}" if opts.quiet else HUMAN if opts.human else RAW
    elif fmt == "json":
        fmt = "{{json .}}"
    rows = [row(i, not opts.no_trunc, opts.human) for i in items]
    ctx.stdout.write(render(fmt, rows, HEADERS))
    return 0
