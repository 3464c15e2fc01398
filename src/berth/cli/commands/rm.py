"""``berth rm [-f] [-v] CONTAINER...``."""

from __future__ import annotations

from berth.cli.command import Command, Context, each
from berth.cli.flags import Flag, Options

COMMAND = Command(
    "rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
    (Flag("force", "f", "bool", help="Force the removal of a running container (uses "
          "SIGKILL)"),
     Flag("volumes", "v", "bool", help="Remove anonymous volumes associated with the "
          "container")),
    min_args=1, aliases=("container rm", "container remove", "rm"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    return each(ctx, args, lambda name: ctx.client.containers.remove(
        name, force=opts.force, volumes=opts.volumes))
