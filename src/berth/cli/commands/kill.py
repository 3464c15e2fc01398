"""``berth kill [-s SIG] CONTAINER...``: the signal goes to the daemon as written
(``KILL``, ``SIGKILL`` or ``9``); the daemon validates it."""

from __future__ import annotations

from berth.cli.command import Command, Context, each
from berth.cli.flags import Flag, Options

COMMAND = Command(
    "kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
    (Flag("signal", "s", "str", "", "Signal to send to the container"),),
    min_args=1, aliases=("container kill", "kill"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    return each(ctx, args, lambda name: ctx.client.containers.kill(name, opts.signal))
