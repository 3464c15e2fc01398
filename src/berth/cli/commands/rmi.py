"""``berth rmi [-f] IMAGE...`` / ``berth image rm``: print what was untagged and deleted."""

from __future__ import annotations

from berth.cli.command import Command, Context, each
from berth.cli.flags import Flag, Options

COMMAND = Command(
    "rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images",
    (Flag("force", "f", "bool", help="Force removal of the image"),
     Flag("no-prune", kind="bool", help="Do not delete untagged parents")),
    min_args=1, aliases=("image rm", "image remove", "rmi"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    def remove(name: str) -> str:
        records = ctx.client.images.remove(name, force=opts.force, prune=not opts.no_prune)
        return "\n".join(f"{kind}: {value}" for record in records
                         for kind, value in record.items())

    return each(ctx, args, remove)
