"""``berth save [-o FILE] IMAGE...`` / ``berth image save``: images as one tar archive
(docker-archive with the OCI layout parts), streamed to the file or to stdout."""

from __future__ import annotations

from berth.cli.archive_output import check_destination, write_chunks
from berth.cli.command import Command
from berth.cli.flags import Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "save", "[OPTIONS] IMAGE [IMAGE...]",
    "Save one or more images to a tar archive (streamed to STDOUT by default)",
    (Flag("output", "o", "str", "", "Write to a file, instead of STDOUT"),),
    min_args=1, aliases=("image save", "save"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    check_destination(ctx, opts.output, "save image")
    write_chunks(ctx, ctx.client.images.save(args), opts.output)
    return 0
