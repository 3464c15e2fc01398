"""``berth system prune [-a] [--volumes] [-f] [--filter K=V]``: stopped containers, unused
networks, dangling (or with ``-a`` unused) images and build cache, and with ``--volumes``
anonymous volumes, after docker 28's prompt unless forced (issue 12)."""

from __future__ import annotations

from berth.cli.command import Command, StatusError
from berth.cli.commands.prune import confirm
from berth.cli.commands.ps import parse_filters
from berth.cli.flags import Flag, filter_pair
from berth.cli.output import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "prune", "[OPTIONS]", "Remove unused data",
    (Flag("all", "a", "bool", help="Remove all unused images not just dangling ones"),
     Flag("filter", kind="list", help='Provide filter values (e.g. "label=<key>=<value>")',
          convert=filter_pair, metavar="filter"),
     Flag("force", "f", "bool", help="Do not prompt for confirmation"),
     Flag("volumes", kind="bool", help="Prune anonymous volumes")),
    max_args=0)


def warning(all_images: bool, volumes: bool, filters: dict[str, list[str]]) -> str:
    """docker's ``confirmationMessage``."""
    from berth.cli.commands.network import natural_key

    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    if all_images:
        items.append("all images without at least one container associated to them")
    else:
        items.append("all dangling images")
    items.append("all build cache" if all_images else "unused build cache")
    text = "WARNING! This will remove:\n" + "".join(f"  - {item}\n" for item in items)
    shown = sorted((f"{name}={value}" for name in ("label", "label!", "until")
                    for value in filters.get(name, ())), key=natural_key)
    if shown:
        text += "\n  Items to be pruned will be filtered with:\n"
        text += "".join(f"  - {item}\n" for item in shown)
    return text + "\nAre you sure you want to continue?"


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    filters = parse_filters(opts.filter)
    if "until" in filters and opts.volumes:
        raise StatusError(1, "ERROR: The \"until\" filter is not supported with \"--volumes\"")
    if not opts.force and not confirm(ctx, warning(opts.all, opts.volumes, filters)):
        return 0
    client = ctx.client
    reclaimed = 0
    deleted, space = client.containers.prune(filters)
    reclaimed += space
    if deleted:
        ctx.out("Deleted Containers:\n" + "".join(f"{i}\n" for i in deleted))
    networks = client.networks.prune(filters)
    if networks:
        ctx.out("Deleted Networks:\n" + "".join(f"{n}\n" for n in networks))
    if opts.volumes:
        names, space = client.volumes.prune(filters)
        if names:
            reclaimed += space
            ctx.out("Deleted Volumes:\n" + "".join(f"{n}\n" for n in names))
    image_filters = {**filters, "dangling": ["false" if opts.all else "true"]}
    images, space = client.images.prune(image_filters)
    reclaimed += space
    if images:
        lines = [f"untagged: {d['Untagged']}" if d.get("Untagged") else
                 f"deleted: {d.get('Deleted', '')}" for d in images]
        ctx.out("Deleted Images:\n" + "".join(f"{line}\n" for line in lines))
    from berth.client.build import prune as prune_cache

    cache, space = prune_cache(client.api, opts.all, 0, filters)
    reclaimed += space
    if cache:
        ctx.out("Deleted build cache objects:\n" + "".join(f"{i}\n" for i in cache))
    ctx.out(f"Total reclaimed space: {human_size(reclaimed, 4)}")
    return 0
