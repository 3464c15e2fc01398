"""``berth stop [-t N] [-s SIG] CONTAINER...``."""

from __future__ import annotations

from berth.cli.command import Command, Context, each
from berth.cli.flags import Flag, Options

COMMAND = Command(
    "stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
    (Flag("signal", "s", "str", "", "Signal to send to the container"),
     Flag("timeout", "t", "int", None, "Seconds to wait before killing the container")),
    min_args=1, aliases=("container stop", "stop"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    return each(ctx, args, lambda name: ctx.client.containers.stop(
        name, timeout=opts.timeout, signal=opts.signal))
