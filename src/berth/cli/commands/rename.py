"""``berth rename CONTAINER NEW_NAME``: silent on success; on failure docker prints the
daemon's error and then its own line."""

from __future__ import annotations

from berth import errors
from berth.cli.command import Command, Context, StatusError, daemon_message, reraise_unreachable
from berth.cli.flags import Options

COMMAND = Command("rename", "CONTAINER NEW_NAME", "Rename a container", min_args=2,
                  max_args=2, aliases=("container rename", "rename"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    old, new = args
    try:
        ctx.client.containers.rename(old, new.strip())
    except errors.BerthError as err:
        reraise_unreachable(err)
        ctx.err(daemon_message(err))
        raise StatusError(1, f"Error: failed to rename container named {old}") from err
    return 0
