"""``berth wait CONTAINER...``: print each container's exit code when it stops."""

from __future__ import annotations

from berth.cli.command import Command, Context, each
from berth.cli.flags import Options

COMMAND = Command(
    "wait", "CONTAINER [CONTAINER...]",
    "Block until one or more containers stop, then print their exit codes",
    min_args=1, aliases=("container wait", "wait"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    return each(ctx, args, lambda name: str(ctx.client.containers.wait(name).status_code))
