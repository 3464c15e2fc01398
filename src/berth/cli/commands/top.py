"""``berth top CONTAINER [ps OPTIONS]``: the daemon runs ps; we align its columns the
way docker does (``tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)``)."""

from __future__ import annotations

from berth.cli.command import Command, Context
from berth.cli.flags import Options
from berth.cli.tabwriter import align

COMMAND = Command("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a "
                  "container", min_args=1, interspersed=False,
                  aliases=("container top", "top"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    titles, processes = ctx.client.containers.top(args[0], " ".join(args[1:]))
    lines = ["\t".join(titles), *("\t".join(row) for row in processes)]
    ctx.stdout.write(align("".join(line + "\n" for line in lines), min_width=20))
    return 0
