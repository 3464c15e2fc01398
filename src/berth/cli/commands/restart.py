"""``berth restart [-t N] [-s SIG] CONTAINER...``: stop (as ``stop`` would) then start."""

from __future__ import annotations

from berth.cli.command import Command, Context, each
from berth.cli.commands.stop import COMMAND as STOP
from berth.cli.flags import Options

COMMAND = Command(
    "restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
    STOP.flags, min_args=1, aliases=("container restart", "restart"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    return each(ctx, args, lambda name: ctx.client.containers.restart(
        name, timeout=opts.timeout, signal=opts.signal))
