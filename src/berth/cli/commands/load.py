"""``berth load [-i FILE] [-q]`` / ``berth image load``: images from a tar archive (docker's
or an OCI layout, maybe compressed), streamed to the daemon, never read whole."""

from __future__ import annotations

import os
import sys

from berth.cli.command import Command, StatusError
from berth.cli.flags import Flag
from berth.cli.jsonmessage import display

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "load", "[OPTIONS]", "Load an image from a tar archive or STDIN",
    (Flag("input", "i", "str", "", "Read from tar archive file, instead of STDIN"),
     Flag("quiet", "q", "bool", help="Suppress the load output")),
    max_args=0, aliases=("image load", "load"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    # docker asks for no progress bars unless they would be drawn on a terminal
    quiet = opts.quiet or not ctx.stdout.isatty()
    if not opts.input:
        if sys.stdin.isatty():
            raise StatusError(1, "requested load from stdin, but stdin is empty")
        display(ctx, ctx.client.images.load(sys.stdin.buffer, quiet))
        return 0
    try:
        fh = open(opts.input, "rb")
    except OSError as err:
        raise StatusError(1, f"open {opts.input}: {(err.strerror or str(err)).lower()}") \
            from err
    with fh:
        size = os.fstat(fh.fileno()).st_size
        display(ctx, ctx.client.images.load(fh, quiet, size))
    return 0
