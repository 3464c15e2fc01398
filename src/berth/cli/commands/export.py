"""``berth export [-o FILE] CONTAINER`` / ``berth container export``: the container's whole
root filesystem (its image and its changes) as a tar."""

from __future__ import annotations

from berth.cli.archive_output import check_destination, write_chunks
from berth.cli.command import Command
from berth.cli.flags import Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive",
    (Flag("output", "o", "str", "", "Write to a file, instead of STDOUT"),),
    min_args=1, max_args=1, aliases=("container export", "export"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    check_destination(ctx, opts.output, "export container")
    write_chunks(ctx, ctx.client.containers.export(args[0]), opts.output)
    return 0
