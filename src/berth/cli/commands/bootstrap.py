"""``berth image bootstrap [--mirror URL] NAME``: Berth's extension that builds a base image
on the daemon's host, for a machine without a registry: ``busybox`` from the host's static
busybox, ``debian[:SUITE]`` with debootstrap from a Debian mirror."""

from __future__ import annotations

from berth.cli.command import Command, Context
from berth.cli.flags import Flag, Options
from berth.cli.output import show_progress

COMMAND = Command(
    "bootstrap", "[OPTIONS] NAME",
    "Create a base image on the host (busybox, debian[:SUITE])",
    (Flag("mirror", metavar="URL",
          help="Debian mirror for debian images (default: the daemon's, else its host's apt "
               "source)"),),
    min_args=1, max_args=1, aliases=("image bootstrap",))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    show_progress(ctx, ctx.client.images.bootstrap(args[0], opts.mirror or ""))
    return 0
