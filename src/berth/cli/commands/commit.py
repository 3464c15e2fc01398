"""``berth commit [-a] [-m] [-c INSTR]... [-p] CONTAINER [REPOSITORY[:TAG]]``: a new image
from a container's changes, as docker 28's (issue 12). Prints the image id."""

from __future__ import annotations

from berth.cli.command import Command, StatusError
from berth.cli.flags import Flag
from berth.cli.jsonmessage import split_tag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    "Create a new image from a container's changes",
    (Flag("author", "a", "str", "", 'Author (e.g., "John Hannibal Smith '
          '<hannibal@a-team.com>")'),
     Flag("change", "c", "list", help="Apply Dockerfile instruction to the created image"),
     Flag("message", "m", "str", "", "Commit message"),
     Flag("pause", "p", "bool", True, "Pause container during commit")),
    min_args=1, max_args=2, interspersed=False, aliases=("container commit", "commit"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    repo = tag = ""
    if len(args) > 1:
        if "@" in args[1]:
            raise StatusError(1, "refusing to create a tag with a digest reference")
        repo, tag = split_tag(args[1])
        tag = tag or "latest"
    ctx.out(ctx.client.containers.commit(
        args[0], repo=repo, tag=tag, comment=opts.message, author=opts.author,
        changes=tuple(opts.change), pause=opts.pause))
    return 0
