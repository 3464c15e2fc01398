"""``berth image prune [-a] [-f] [--filter K=V]``: remove dangling images, or with ``-a``
every image no container uses, after docker's prompt unless forced."""

from __future__ import annotations

from berth.cli.command import Command, Context
from berth.cli.commands.prune import confirm
from berth.cli.commands.ps import parse_filters
from berth.cli.flags import Flag, Options, filter_pair
from berth.cli.output import human_size

COMMAND = Command(
    "prune", "[OPTIONS]", "Remove unused images",
    (Flag("all", "a", "bool", help="Remove all unused images, not just dangling ones"),
     Flag("filter", kind="list", help='Provide filter values (e.g. "until=<timestamp>")',
          convert=filter_pair, metavar="filter"),
     Flag("force", "f", "bool", help="Do not prompt for confirmation")),
    max_args=0)

ALL_WARNING = ("WARNING! This will remove all images without at least one container "
               "associated to them.\nAre you sure you want to continue?")
DANGLING_WARNING = ("WARNING! This will remove all dangling images.\n"
                    "Are you sure you want to continue?")


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    filters = parse_filters(opts.filter)
    filters["dangling"] = ["false" if opts.all else "true"]
    warning = ALL_WARNING if opts.all else DANGLING_WARNING
    if not opts.force and not confirm(ctx, warning):
        return 0
    deleted, reclaimed = ctx.client.images.prune(filters)
    if deleted:
        lines = [f"untagged: {d['Untagged']}" if d.get("Untagged") else
                 f"deleted: {d.get('Deleted', '')}" for d in deleted]
        ctx.out("Deleted Images:\n" + "".join(f"{line}\n" for line in lines))
    ctx.out(f"Total reclaimed space: {human_size(reclaimed, 4)}")
    return 0
