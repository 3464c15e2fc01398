"""``berth system df [-v] [--format]``: disk usage by kind, as docker 28 prints it
(``formatter.DiskUsageContext``): one summary row per kind, or with ``-v`` a table per
kind (issue 12)."""

from __future__ import annotations

from berth.cli.command import Command
from berth.cli.commands.images import HEADERS as IMAGE_HEADERS
from berth.cli.commands.images import rows_of
from berth.cli.commands.network import go_time_text
from berth.cli.commands.ps import HEADERS as CONTAINER_HEADERS
from berth.cli.commands.ps import row as container_row
from berth.cli.commands.volume import LS_HEADERS as VOLUME_HEADERS
from berth.cli.commands.volume import volume_row
from berth.cli.flags import Flag
from berth.cli.output import human_size, pick_format, render, render_one, since
from berth.cli.template_fmt import MarshalledRow
from berth.client.models import ContainerSummary, ImageSummary
from berth.client.volumes import VolumeSummary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "df", "[OPTIONS]", "Show docker disk usage",
    (Flag("format", kind="str", default="", help="Format output using a custom template"),
     Flag("verbose", "v", "bool", help="Show detailed information on space usage")),
    max_args=0)

SUMMARY = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
RAW = ("type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\n"
       "reclaimable: {{.Reclaimable}}\n")
SUMMARY_HEADERS: dict[str, object] = {"Type": "TYPE", "TotalCount": "TOTAL",
                                      "Active": "ACTIVE", "Size": "SIZE",
                                      "Reclaimable": "RECLAIMABLE"}
IMAGES = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
          "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}")
CONTAINERS = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
              "{{.RunningFor}}\t{{.Status}}\t{{.Names}}")
VOLUMES = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
CACHE = ("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t"
         "{{.UsageCount}}\t{{.Shared}}")
CACHE_HEADERS: dict[str, object] = {
    "ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
    "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED",
}
_ACTIVE_STATES = ("running", "paused", "restarting")


def _size(n: int) -> str:
    return human_size(n, 4)  # go-units HumanSize


def _share(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return _size(reclaimable)


def summary_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    images = doc.get("Images") or []
    containers = doc.get("Containers") or []
    volumes = doc.get("Volumes") or []
    cache = doc.get("BuildCache") or []
    layers = int(doc.get("LayersSize") or 0)
    used = sum(int(i.get("Size", 0)) - int(i.get("SharedSize", 0)) for i in images
               if i.get("Containers") and i.get("Size", 0) != -1
               and i.get("SharedSize", 0) != -1)
    sizes = [int(c.get("SizeRw") or 0) for c in containers]
    idle = sum(int(c.get("SizeRw") or 0) for c in containers
               if c.get("State") not in _ACTIVE_STATES)
    usage = [v.get("UsageData") or {"Size": -1, "RefCount": 0} for v in volumes]
    vol_total = sum(int(u["Size"]) for u in usage if u["Size"] != -1)
    vol_free = sum(int(u["Size"]) for u in usage if u["Size"] != -1 and not u["RefCount"])
    builder = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    in_use = sum(int(b.get("Size") or 0) for b in cache if b.get("InUse")
                 and not b.get("Shared"))
    return [
        {"Type": "Images", "TotalCount": str(len(images)),
         "Active": str(sum(1 for i in images if i.get("Containers", 0) > 0)),
         "Size": _size(layers), "Reclaimable": _share(layers - used, layers)},
        {"Type": "Containers", "TotalCount": str(len(containers)),
         "Active": str(sum(1 for c in containers if c.get("State") in _ACTIVE_STATES)),
         "Size": _size(sum(sizes)), "Reclaimable": _share(idle, sum(sizes))},
        {"Type": "Local Volumes", "TotalCount": str(len(volumes)),
         "Active": str(sum(1 for u in usage if u["RefCount"] > 0)),
         "Size": _size(vol_total), "Reclaimable": _share(vol_free, vol_total)},
        {"Type": "Build Cache", "TotalCount": str(len(cache)),
         "Active": str(sum(1 for b in cache if b.get("InUse"))),
         "Size": _size(builder), "Reclaimable": _size(builder - in_use)},
    ]


def _cache_row(b: dict[str, Any], trunc: bool = True) -> dict[str, Any]:
    def ago(stamp: object) -> str:
        """"2 hours ago" for an RFC 3339 time (its fraction dropped, as seconds do)."""
        text = str(stamp or "")
        if "T" not in text:
            return ""
        import calendar
        import time

        clock = text[:19]
        zone = text[19:].lstrip(".0123456789")
        when = calendar.timegm(time.strptime(clock, "%Y-%m-%dT%H:%M:%S"))
        if zone not in ("", "Z"):
            sign = 1 if zone[0] == "+" else -1
            hours, _, minutes = zone[1:].partition(":")
            when -= sign * (int(hours) * 3600 + int(minutes or 0) * 60)
        return since(when)

    def cut(text: str) -> str:
        return text[:12] if trunc else text

    parent = ", ".join(b.get("Parents") or ()) or str(b.get("Parent") or "")
    return {"CacheType": str(b.get("Type") or ""),
            "CreatedAt": go_time_text(str(b.get("CreatedAt") or "")),
            "CreatedSince": ago(b.get("CreatedAt")),
            "Description": str(b.get("Description") or ""),
            "ID": cut(str(b.get("ID") or "")) + ("*" if b.get("InUse") else ""),
            "InUse": str(bool(b.get("InUse"))).lower(),
            "LastUsedAt": go_time_text(str(b.get("LastUsedAt") or "")),
            "LastUsedSince": ago(b.get("LastUsedAt")), "Parent": cut(parent),
            "Shared": str(bool(b.get("Shared"))).lower(),
            "Size": _size(int(b.get("Size") or 0)), "UsageCount": str(b.get("UsageCount") or 0)}


def _image_row(image: ImageSummary, trunc: bool = True) -> dict[str, Any]:
    """``images``' row of the first tag, with docker's ``HumanSize`` (4 digits) for the
    shared and unique sizes, as ``system df -v`` prints them."""
    row = {**rows_of(image, trunc)[0], "Digest": ""}  # df's imageContext has no digest
    if image.shared_size >= 0:
        row["SharedSize"] = _size(image.shared_size)
        row["UniqueSize"] = _size(image.size - image.shared_size)
    return row


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    doc = ctx.client.system.disk_usage()
    if not opts.verbose:
        fmt = RAW if opts.format == "raw" else pick_format(opts.format, False, SUMMARY, SUMMARY)
        summary = [dict(sorted(r.items())) for r in summary_rows(doc)]  # Go's JSON key order
        ctx.stdout.write(render(fmt, summary, SUMMARY_HEADERS))
        return 0
    if opts.format not in ("", "table"):
        # docker runs a custom template once, over every kind's untruncated rows
        fmt = "{{json .}}" if opts.format == "json" else opts.format
        text = render_one(fmt, verbose_rows(doc, trunc=False))
        ctx.stdout.write(text[:-1])  # Go's Execute adds no newline
        return 0
    rows = verbose_rows(doc, trunc=True)
    ctx.stdout.write("Images space usage:\n\n")
    ctx.stdout.write(render(IMAGES, rows["Images"], IMAGE_HEADERS))
    ctx.stdout.write("\nContainers space usage:\n\n")
    ctx.stdout.write(render(CONTAINERS, rows["Containers"], CONTAINER_HEADERS))
    ctx.stdout.write("\nLocal Volumes space usage:\n\n")
    ctx.stdout.write(render(VOLUMES, rows["Volumes"], VOLUME_HEADERS))
    cache = doc.get("BuildCache") or []
    builder = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    ctx.stdout.write(f"\nBuild cache usage: {_size(builder)}\n\n")
    ctx.stdout.write(render(CACHE, rows["BuildCache"], CACHE_HEADERS))
    return 0


def verbose_rows(doc: dict[str, Any], trunc: bool) -> dict[str, list[MarshalledRow]]:
    """``system df -v``'s four lists, each row as docker's formatter context marshals it
    (methods such as ``Label`` left out)."""
    def plain(row: dict[str, Any]) -> MarshalledRow:
        return MarshalledRow({k: v for k, v in sorted(row.items()) if not callable(v)})

    return {
        "Images": [plain(_image_row(ImageSummary.from_json(i), trunc))
                   for i in doc.get("Images") or []],
        "Containers": [plain({**container_row(ContainerSummary.from_json(c), trunc),
                              "Size": human_size(int(c.get("SizeRw") or 0))})  # no virtual
                       for c in doc.get("Containers") or []],
        "Volumes": [plain(volume_row(VolumeSummary.from_json(v)))
                    for v in doc.get("Volumes") or []],
        "BuildCache": [plain(_cache_row(b, trunc)) for b in doc.get("BuildCache") or []],
    }
