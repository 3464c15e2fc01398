"""``berth diff CONTAINER`` / ``berth container diff``: the container's changes to its
image's filesystem, one "A|C|D /path" line each, as docker prints them (issue 12)."""

from __future__ import annotations

from berth.cli.command import Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "diff", "CONTAINER",
    "Inspect changes to files or directories on a container's filesystem",
    min_args=1, max_args=1, aliases=("container diff", "diff"))

KINDS = {0: "C", 1: "A", 2: "D"}  # docker's container.ChangeType


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    if not args[0]:
        raise StatusError(1, "Container name cannot be empty")
    for kind, path in ctx.client.containers.changes(args[0]):
        ctx.out(f"{KINDS.get(kind, '?')} {path}")
    return 0
