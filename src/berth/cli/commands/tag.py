"""``berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`` / ``berth image tag``."""

from __future__ import annotations

from berth.cli.command import Command
from berth.cli.jsonmessage import split_tag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    min_args=2, max_args=2, aliases=("image tag", "tag"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    repo, tag = split_tag(args[1])
    ctx.client.images.tag(args[0], repo, tag or "latest")
    return 0
