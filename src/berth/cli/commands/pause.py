"""``berth pause CONTAINER...`` and ``berth unpause CONTAINER...``: one module, as the two
verbs differ only in the endpoint."""

from __future__ import annotations

from berth.cli.command import Command, Context, each
from berth.cli.flags import Options

COMMAND = Command(
    "pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
    min_args=1, aliases=("container pause", "pause"))
UNPAUSE = Command(
    "unpause", "CONTAINER [CONTAINER...]",
    "Unpause all processes within one or more containers",
    min_args=1, aliases=("container unpause", "unpause"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    containers = ctx.client.containers
    action = containers.unpause if ctx.path.endswith("unpause") else containers.pause
    return each(ctx, args, action)
