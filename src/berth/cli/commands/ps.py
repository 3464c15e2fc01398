"""``berth ps``: containers as docker's ``ContainerContext`` shows them."""

from __future__ import annotations

import json

from berth.cli.command import Command
from berth.cli.flags import Flag, filter_pair
from berth.cli.output import ellipsis, go_time, human_size, pick_format, render, since, truncate_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from berth.cli.command import Context
    from berth.cli.flags import Options
    from berth.client.models import ContainerSummary, Port

COMMAND = Command(
    "ps", "[OPTIONS]", "List containers",
    (Flag("all", "a", "bool", help="Show all containers (default shows just running)"),
     Flag("filter", "f", "list", help="Filter output based on conditions provided",
          convert=filter_pair, metavar="filter"),
     Flag("format", kind="str", default="", help="Format output using a custom template"),
     Flag("last", "n", "int", -1, "Show n last created containers (includes all states)"),
     Flag("latest", "l", "bool", help="Show the latest created container (includes all "
          "states)"),
     Flag("no-trunc", kind="bool", help="Don't truncate output"),
     Flag("quiet", "q", "bool", help="Only display container IDs"),
     Flag("size", "s", "bool", help="Display total file sizes")),
    max_args=0, aliases=("container ls", "container list", "container ps", "ps"))

DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t" \
          "{{.Ports}}\t{{.Names}}"


def label_header(name: str) -> str:
    """docker's ``HeaderContext.Label``: the last dotted part, "-"/"_" as spaces."""
    return name.rsplit(".", 1)[-1].replace("-", " ").replace("_", " ")


HEADERS: dict[str, object] = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
    "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
    "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM",
    "Label": label_header,
}


def parse_filters(entries: list[str]) -> dict[str, list[str]]:
    """``--filter k=v`` values (checked by ``filter_pair``) as the API's filters."""
    filters: dict[str, list[str]] = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        filters.setdefault(key.strip().lower(), []).append(value)
    return filters


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    fmt = pick_format(opts.format, opts.quiet, DEFAULT, "{{.ID}}")
    wants_size = opts.size or (not opts.quiet and ".Size" in fmt) or "json ." in fmt
    if opts.size and fmt == DEFAULT:
        fmt += "\t{{.Size}}"
    every = opts.all or opts.latest or opts.last != -1
    containers = ctx.client.containers.list(all=every, size=wants_size,
                                            filters=parse_filters(opts.filter))
    limit = 1 if opts.latest else opts.last
    if limit > 0:
        containers = containers[:limit]
    rows = [row(c, trunc=not opts.no_trunc) for c in containers]
    if ".Label " not in fmt:
        # docker's Label is a method, invisible to {{json .}}; offer it only when called
        for r in rows:
            del r["Label"]
    ctx.stdout.write(render(fmt, rows, HEADERS))
    return 0


def row(c: ContainerSummary, trunc: bool) -> dict[str, Any]:
    """The fields ``--format`` sees, named and rendered as docker's."""
    labels = c.labels
    label: Callable[[str], str] = lambda name: labels.get(name, "")  # noqa: E731
    command = ellipsis(c.command, 20) if trunc else c.command
    fields = {
        "ID": truncate_id(c.id) if trunc else c.id,
        "Image": _image(c, trunc),
        "Command": json.dumps(command, ensure_ascii=False),
        "CreatedAt": go_time(c.created),
        "RunningFor": since(c.created),
        "Ports": displayable_ports(c.ports),
        "State": c.state,
        "Status": c.status,
        "Size": _size(c),
        "Names": ",".join(_names(c.names, trunc)),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Label": label,
        "Mounts": ",".join(ellipsis(m.name or m.source, 15) if trunc else m.name or m.source
                           for m in c.mounts),
        "Networks": ",".join(c.networks),
        "LocalVolumes": str(sum(1 for m in c.mounts if m.name)),
        "Platform": None,  # docker's image platform; the API does not report one yet
    }
    return dict(sorted(fields.items()))  # {{json .}} lists keys as Go's map encoding does


def _image(c: ContainerSummary, trunc: bool) -> str:
    if not c.image:
        return "<no image>"
    if trunc and c.image_id and truncate_id(c.image_id) == truncate_id(c.image):
        return truncate_id(c.image)
    if trunc and "@" in c.image:
        return c.image.partition("@")[0]
    return c.image


def _names(names: tuple[str, ...], trunc: bool) -> list[str]:
    """Names without the leading "/"; truncated output hides link names ("a/b")."""
    stripped = [n[1:] if n.startswith("/") else n for n in names]
    return [n for n in stripped if not (trunc and "/" in n)]


def _join_host_port(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _group(key: tuple[str, str], first: int, last: int) -> str:
    """docker's ``formGroup``: "8000-8010/tcp", or "0.0.0.0:8000-8010->8000-8010/tcp"."""
    ip, proto = key
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{_join_host_port(ip, group)}->{group}"
    return f"{group}/{proto}"


def displayable_ports(ports: tuple[Port, ...]) -> str:
    """docker's ``DisplayablePorts``: the PORTS column. Consecutive ports of one address
    and protocol published on the same numbers collapse into a range; a port published
    on another number is listed on its own, after the groups."""
    ordered = sorted(ports, key=lambda p: (p.private_port, p.ip, p.public_port or 0, p.type))
    groups: dict[tuple[str, str], list[int]] = {}  # key -> [first, last], in first-seen order
    done: list[str] = []
    mappings: list[str] = []
    for p in ordered:
        key = ("", p.type)
        if p.ip:
            if (p.public_port or 0) != p.private_port:
                mappings.append(f"{_join_host_port(p.ip, str(p.public_port or 0))}->"
                                f"{p.private_port}/{p.type}")
                continue
            key = (p.ip, p.type)
        span = groups.get(key)
        if span is not None and p.private_port == span[1] + 1:
            span[1] = p.private_port
            continue
        if span is not None:
            done.append(_group(key, *span))
        groups[key] = [p.private_port, p.private_port]  # a key keeps its first place
    return ", ".join([*done, *(_group(k, *s) for k, s in groups.items()), *mappings])


def _size(c: ContainerSummary) -> str:
    if c.size_rw is None and c.size_root_fs is None:
        return "N/A"
    text = human_size(c.size_rw or 0)
    if c.size_root_fs:
        text += f" (virtual {human_size(c.size_root_fs)})"
    return text
