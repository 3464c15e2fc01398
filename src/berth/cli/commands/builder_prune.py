"""``berth builder prune [-a] [-f] [--filter K=V] [--keep-storage SIZE]``: remove the
build cache (kept contexts and RUN cache mounts) no build is using, after docker's prompt
unless forced. Declining is not an error: docker exits 0 silently."""

from __future__ import annotations

from berth.cli.command import Command, Context
from berth.cli.commands.prune import confirm
from berth.cli.commands.ps import parse_filters
from berth.cli.flags import Flag, Options, filter_pair
from berth.cli.output import human_size
from berth.cli.runconfig import ram_in_bytes

COMMAND = Command(
    "prune", "[OPTIONS]", "Remove build cache",
    (Flag("all", "a", "bool", help="Remove all unused build cache, not just dangling ones"),
     Flag("filter", kind="list", help='Provide filter values (e.g. "until=24h")',
          convert=filter_pair, metavar="filter"),
     Flag("force", "f", "bool", help="Do not prompt for confirmation"),
     Flag("keep-storage", kind="value", help="Amount of disk space to keep for cache",
          convert=ram_in_bytes, metavar="bytes")),
    max_args=0)

ALL_WARNING = "WARNING! This will remove all build cache. Are you sure you want to continue?"
DANGLING_WARNING = ("WARNING! This will remove all dangling build cache. "
                    "Are you sure you want to continue?")


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    from berth.client.build import prune

    filters = parse_filters(opts.filter)
    if not opts.force and not confirm(ctx, ALL_WARNING if opts.all else DANGLING_WARNING):
        return 0
    deleted, reclaimed = prune(ctx.client.api, opts.all, opts.keep_storage or 0,
                               filters)
    if deleted:
        ctx.out("Deleted build cache objects:\n" + "".join(f"{i}\n" for i in deleted))
    ctx.out(f"Total reclaimed space: {human_size(reclaimed, 4)}")
    return 0
