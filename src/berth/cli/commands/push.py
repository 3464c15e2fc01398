"""``berth push [-a] [-q] NAME[:TAG]`` / ``berth image push``."""

from __future__ import annotations

from berth.cli import credentials
from berth.cli.command import Command
from berth.cli.flags import Flag
from berth.cli.jsonmessage import canonical, display, transfer_reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry",
    (Flag("all-tags", "a", "bool", help="Push all tags of an image to the repository"),
     Flag("quiet", "q", "bool", help="Suppress verbose output")),
    min_args=1, max_args=1, aliases=("image push", "push"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    name, tag = transfer_reference(ctx, args[0], opts.all_tags, opts.quiet)
    auth = credentials.header(ctx.env, name)
    display(ctx, ctx.client.images.push(name, tag, auth), opts.quiet)
    if opts.quiet:
        ctx.out(canonical(name) + (f":{tag}" if tag else ""))
    return 0
