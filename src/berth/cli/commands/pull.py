"""``berth pull [-a] [-q] [--platform P] NAME[:TAG|@DIGEST]`` / ``berth image pull``."""

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
    "pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry",
    (Flag("all-tags", "a", "bool", help="Download all tagged images in the repository"),
     Flag("platform", kind="str", default="", help="Set platform if server is multi-platform "
          "capable"),
     Flag("quiet", "q", "bool", help="Suppress verbose output")),
    min_args=1, max_args=1, aliases=("image pull", "pull"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    name, tag = transfer_reference(ctx, args[0], opts.all_tags, opts.quiet)
    auth = credentials.header(ctx.env, name)
    display(ctx, ctx.client.images.pull(name, tag, auth, opts.platform), opts.quiet)
    if tag:
        ctx.out(canonical(name) + ("@" if tag.startswith("sha256:") else ":") + tag)
    else:  # every tag: docker prints the repository
        ctx.out(canonical(name))
    return 0
