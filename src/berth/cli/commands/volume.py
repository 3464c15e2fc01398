"""``berth volume create|ls|inspect|rm|prune``, as docker 28's (issue 12).

One module for the five verbs (each a few lines over ``client.volumes``); ``run`` picks
the verb from the invoked path, as ``network`` does.
"""

from __future__ import annotations

from berth.cli.command import Command, StatusError, each
from berth.cli.commands.inspect import inspect_all
from berth.cli.commands.network import natural_key
from berth.cli.commands.prune import confirm
from berth.cli.commands.ps import parse_filters
from berth.cli.flags import Flag, filter_pair
from berth.cli.output import human_size, pick_format, render
from berth.client.volumes import VolumeCreate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from berth.cli.command import Context
    from berth.cli.flags import Options
    from berth.client.volumes import VolumeSummary


def _label(text: str) -> str:
    """docker's ``ValidateLabel``: a key is required."""
    if text.partition("=")[0].strip() == "":
        raise ValueError(f"invalid label '{text}': empty name")
    return text


CREATE = Command(
    "create", "[OPTIONS] [VOLUME]", "Create a volume",
    (Flag("driver", "d", "str", "local", "Specify volume driver name"),
     Flag("label", kind="list", convert=_label, help="Set metadata for a volume"),
     Flag("name", kind="str", default="", help="Specify volume name", hidden=True),
     Flag("opt", "o", "list", help="Set driver specific options", metavar="map")),
    max_args=1, kind="create")
LS = Command(
    "ls", "[OPTIONS]", "List volumes",
    (Flag("filter", "f", "list", help='Provide filter values (e.g. "dangling=true")',
          convert=filter_pair, metavar="filter"),
     Flag("format", kind="str", default="", help="Format output using a custom template"),
     Flag("quiet", "q", "bool", help="Only display volume names")),
    max_args=0, aliases=("volume ls", "volume list"), kind="ls")
INSPECT = Command(
    "inspect", "[OPTIONS] VOLUME [VOLUME...]",
    "Display detailed information on one or more volumes",
    (Flag("format", "f", "str", "", "Format output using a custom template"),),
    min_args=1, kind="inspect")
RM = Command(
    "rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes",
    (Flag("force", "f", "bool", help="Force the removal of one or more volumes"),),
    min_args=1, aliases=("volume rm", "volume remove"), kind="rm")
PRUNE = Command(
    "prune", "[OPTIONS]", "Remove unused local volumes",
    (Flag("all", "a", "bool", help="Remove all unused volumes, not just anonymous ones"),
     Flag("filter", kind="list", help='Provide filter values (e.g. "label=<label>")',
          convert=filter_pair, metavar="filter"),
     Flag("force", "f", "bool", help="Do not prompt for confirmation")),
    max_args=0, kind="prune")

ANONYMOUS_WARNING = ("WARNING! This will remove anonymous local volumes not used by at "
                     "least one container.\nAre you sure you want to continue?")
ALL_WARNING = ("WARNING! This will remove all local volumes not used by at least one "
               "container.\nAre you sure you want to continue?")


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    verb = ctx.path.split()[-1]
    return _VERBS[{"list": "ls", "remove": "rm"}.get(verb, verb)](ctx, opts, args)


def _pairs(entries: list[str]) -> dict[str, str]:
    return {key: value for key, _, value in (e.partition("=") for e in entries)}


def _create(ctx: Context, opts: Options, args: list[str]) -> int:
    name = opts.name
    if args:
        if name:
            raise StatusError(1, "conflicting options: cannot specify a volume-name through "
                                 "both --name and as a positional arg")
        name = args[0]
    doc = ctx.client.volumes.create(VolumeCreate(name, opts.driver, _pairs(opts.opt),
                                                 _pairs(opts.label)))
    ctx.out(str(doc.get("Name") or name))
    return 0


LS_DEFAULT = "table {{.Driver}}\t{{.Name}}"
LS_HEADERS: dict[str, object] = {
    "ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER",
    "Scope": "SCOPE", "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Status": "STATUS",
}


def volume_row(v: VolumeSummary) -> dict[str, Any]:
    """The fields ``volume ls --format`` sees (docker's ``volumeContext``)."""
    labels = v.labels
    label: Callable[[str], str] = lambda name: labels.get(name, "")  # noqa: E731
    return {
        "Availability": "N/A", "Driver": v.driver, "Group": "N/A", "Label": label,
        "Labels": ",".join(f"{k}={val}" for k, val in labels.items()),
        "Links": "N/A" if v.ref_count < 0 else str(v.ref_count),
        "Mountpoint": v.mountpoint, "Name": v.name, "Scope": v.scope,
        "Size": "N/A" if v.size < 0 else human_size(v.size, 4), "Status": "N/A",
    }


def _ls(ctx: Context, opts: Options, args: list[str]) -> int:
    volumes, _ = ctx.client.volumes.list(parse_filters(opts.filter))
    volumes.sort(key=lambda v: natural_key(v.name))
    fmt = pick_format(opts.format, opts.quiet, LS_DEFAULT, "{{.Name}}")
    if opts.format == "raw":  # docker's RawFormatKey for volumes
        fmt = "name: {{.Name}}" if opts.quiet else "name: {{.Name}}\ndriver: {{.Driver}}\n"
    if opts.quiet and fmt == LS_DEFAULT:
        fmt = "{{.Name}}"
    rows = [volume_row(v) for v in volumes]
    if ".Label" not in fmt.replace(".Labels", ""):
        for r in rows:
            del r["Label"]  # a method in docker: invisible to {{json .}}
    ctx.stdout.write(render(fmt, rows, LS_HEADERS, "*formatter.volumeContext"))
    return 0


def _inspect(ctx: Context, opts: Options, args: list[str]) -> int:
    return inspect_all(ctx, opts.format, args, [ctx.client.volumes.inspect], typed=True)


def _rm(ctx: Context, opts: Options, args: list[str]) -> int:
    return each(ctx, args, lambda name: ctx.client.volumes.remove(name, force=opts.force))


def _prune(ctx: Context, opts: Options, args: list[str]) -> int:
    filters = parse_filters(opts.filter)
    warning = ANONYMOUS_WARNING
    if opts.all:
        if "all" in filters:
            raise StatusError(1, "conflicting options: cannot specify both --all and "
                                 "--filter all=1")
        filters["all"] = ["true"]
        warning = ALL_WARNING
    if not opts.force and not confirm(ctx, warning):
        return 0  # docker's cancelled prune: no message, exit 0
    deleted, reclaimed = ctx.client.volumes.prune(filters)
    if deleted:
        ctx.out("Deleted Volumes:\n" + "".join(f"{name}\n" for name in deleted))
    else:
        reclaimed = 0
    ctx.out(f"Total reclaimed space: {human_size(reclaimed, 4)}")
    return 0


_VERBS: dict[str, Callable[[Context, Options, list[str]], int]] = {
    "create": _create, "ls": _ls, "inspect": _inspect, "rm": _rm, "prune": _prune,
}
