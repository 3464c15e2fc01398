"""``berth images`` / ``berth image ls``: one row per tag, as docker's ``ImageContext``."""

from __future__ import annotations

from berth.cli.command import Command
from berth.cli.commands.ps import parse_filters
from berth.cli.flags import Flag
from berth.cli.output import go_time, human_size, pick_format, render, since, truncate_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.command import Context
    from berth.cli.flags import Options
    from berth.client.models import ImageSummary

COMMAND = Command(
    "images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images",
    (Flag("all", "a", "bool", help="Show all images (default hides intermediate images)"),
     Flag("digests", kind="bool", help="Show digests"),
     Flag("filter", "f", "list", help="Filter output based on conditions provided",
          metavar="filter"),
     Flag("format", kind="str", default="", help="Format output using a custom template"),
     Flag("no-trunc", kind="bool", help="Don't truncate output"),
     Flag("quiet", "q", "bool", help="Only show image IDs")),
    max_args=1, aliases=("image ls", "image list", "images"))

DEFAULT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t" \
          "{{.Size}}"
HEADERS = {
    "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}
NONE = "<none>"


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    filters = parse_filters(opts.filter)
    if args:
        filters.setdefault("reference", []).append(args[0])
    images = ctx.client.images.list(all=opts.all, filters=filters)
    trunc = not opts.no_trunc
    if opts.quiet and not opts.format:
        seen: dict[str, None] = {}
        for image in images:
            seen[truncate_id(image.id) if trunc else image.id] = None
        ctx.stdout.write("".join(f"{i}\n" for i in seen))
        return 0
    fmt = pick_format(opts.format, False, DIGESTS if opts.digests else DEFAULT, "")
    rows = [r for image in images for r in rows_of(image, trunc)]
    ctx.stdout.write(render(fmt, rows, HEADERS))
    return 0


def _split_tag(repo_tag: str) -> tuple[str, str]:
    repo, sep, tag = repo_tag.rpartition(":")
    if not sep or "/" in tag:
        return repo_tag, NONE
    return repo, tag


def rows_of(image: ImageSummary, trunc: bool) -> list[dict[str, Any]]:
    """A row per tag (``<none>`` for an untagged image), with its repository's digest."""
    digests = {d.partition("@")[0]: d.partition("@")[2] for d in image.repo_digests}
    pairs = [_split_tag(t) for t in image.repo_tags if t != "<none>:<none>"]
    if not pairs:
        pairs = [(repo, NONE) for repo in digests] or [(NONE, NONE)]
    return [_row(image, repo, tag, digests.get(repo, NONE), trunc) for repo, tag in pairs]


def _row(image: ImageSummary, repo: str, tag: str, digest: str,
         trunc: bool) -> dict[str, Any]:
    unique = image.size - image.shared_size if image.shared_size >= 0 else -1
    return {
        "Containers": str(image.containers) if image.containers >= 0 else "N/A",
        "CreatedAt": go_time(image.created),
        "CreatedSince": since(image.created) if image.created else "N/A",
        "Digest": digest,
        "ID": truncate_id(image.id) if trunc else image.id,
        "Repository": repo,
        "SharedSize": human_size(image.shared_size) if image.shared_size >= 0 else "N/A",
        "Size": human_size(image.size),
        "Tag": tag,
        "UniqueSize": human_size(unique) if unique >= 0 else "N/A",
        "VirtualSize": human_size(image.size, 4),
    }
