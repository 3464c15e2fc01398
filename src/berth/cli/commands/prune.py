"""``berth container prune [-f] [--filter K=V]``: remove every stopped container, after
docker's prompt unless forced. Declining is not an error: docker exits 0 silently."""

from __future__ import annotations

from berth.cli.command import Command, Context
from berth.cli.commands.ps import parse_filters
from berth.cli.flags import Flag, Options, filter_pair
from berth.cli.output import human_size

COMMAND = Command(
    "prune", "[OPTIONS]", "Remove all stopped containers",
    (Flag("filter", kind="list", help='Provide filter values (e.g. "until=<timestamp>")',
          convert=filter_pair, metavar="filter"),
     Flag("force", "f", "bool", help="Do not prompt for confirmation")),
    max_args=0)

WARNING = ("WARNING! This will remove all stopped containers.\n"
           "Are you sure you want to continue?")


def confirm(ctx: Context, message: str) -> bool:
    """docker's ``PromptForConfirmation``: the question on stdout, yes only for y/Y."""
    ctx.stdout.write(f"{message} [y/N] ")
    ctx.stdout.flush()
    answer = ctx.stdin.readline()
    return answer.strip() in ("y", "Y")


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    filters = parse_filters(opts.filter)
    if not opts.force and not confirm(ctx, WARNING):
        return 0
    deleted, reclaimed = ctx.client.containers.prune(filters)
    if deleted:
        ctx.out("Deleted Containers:\n" + "".join(f"{ident}\n" for ident in deleted))
    ctx.out(f"Total reclaimed space: {human_size(reclaimed, 4)}")  # go-units HumanSize
    return 0
