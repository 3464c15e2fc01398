"""``berth image bootstrap NAME``: Berth's extension that builds a base image (``busybox``)
from the host, for a machine without a registry."""

from __future__ import annotations

from berth.cli.command import Command, Context
from berth.cli.flags import Options
from berth.cli.output import show_progress

COMMAND = Command("bootstrap", "NAME", "Create a base image from the host (busybox)",
                  min_args=1, max_args=1, aliases=("image bootstrap",))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    show_progress(ctx, ctx.client.images.bootstrap(args[0]))
    return 0
