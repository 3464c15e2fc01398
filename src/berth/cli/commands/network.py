"""``berth network create|ls|inspect|rm|prune|connect|disconnect``, as docker 28's.

One module for the seven verbs (each is a few lines over ``client.networks``); ``run``
picks the verb from the invoked path, as ``inspect`` picks its kind.
"""

from __future__ import annotations

from berth import errors
from berth.cli.command import Command, StatusError, daemon_message, reraise_unreachable
from berth.cli.commands.inspect import inspect_all
from berth.cli.commands.prune import confirm
from berth.cli.commands.ps import parse_filters
from berth.cli.flags import Flag, filter_pair
from berth.cli.netflags import validate_link
from berth.cli.output import pick_format, render, truncate_id
from berth.client.networking import EndpointConfig
from berth.client.networks import IPAMPool, NetworkCreate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from berth.cli.command import Context
    from berth.cli.flags import Options
    from berth.client.networks import NetworkSummary

_FILTER = Flag("filter", "f", "list", help='Provide filter values (e.g. "driver=bridge")',
               convert=filter_pair, metavar="filter")
_FORMAT = Flag("format", "f", "str", "", "Format output using a custom template")


def _strings(text: str) -> list[str]:
    """pflag's ``StringSlice``: comma-separated values (``--subnet a,b``)."""
    return [part for part in text.split(",") if part]


CREATE = Command(
    "create", "[OPTIONS] NETWORK", "Create a network",
    (Flag("attachable", kind="bool", help="Enable manual container attachment"),
     Flag("driver", "d", "str", "bridge", "Driver to manage the Network"),
     Flag("gateway", kind="list", convert=_strings, metavar="strings",
          help="IPv4 or IPv6 Gateway for the master subnet"),
     Flag("internal", kind="bool", help="Restrict external access to the network"),
     Flag("ip-range", kind="list", convert=_strings, metavar="strings",
          help="Allocate container ip from a sub-range"),
     Flag("ipam-driver", kind="str", default="default", help="IP Address Management Driver"),
     Flag("label", kind="list", help="Set metadata on a network"),
     Flag("opt", "o", "list", help="Set driver specific options", metavar="map"),
     Flag("subnet", kind="list", convert=_strings, metavar="strings",
          help="Subnet in CIDR format that represents a network segment")),
    min_args=1, max_args=1, kind="create")
LS = Command(
    "ls", "[OPTIONS]", "List networks",
    (_FILTER, Flag("format", kind="str", default="", help="Format output using a custom "
                   "template"),
     Flag("no-trunc", kind="bool", help="Do not truncate the output"),
     Flag("quiet", "q", "bool", help="Only display network IDs")),
    max_args=0, aliases=("network ls", "network list"), kind="ls")
INSPECT = Command(
    "inspect", "[OPTIONS] NETWORK [NETWORK...]",
    "Display detailed information on one or more networks",
    (_FORMAT, Flag("verbose", "v", "bool", help="Verbose output for diagnostics")),
    min_args=1, kind="inspect")
RM = Command(
    "rm", "NETWORK [NETWORK...]", "Remove one or more networks",
    (Flag("force", "f", "bool", help="Do not error if the network does not exist"),),
    min_args=1, aliases=("network rm", "network remove"), kind="rm")
PRUNE = Command(
    "prune", "[OPTIONS]", "Remove all unused networks",
    (Flag("filter", kind="list", help='Provide filter values (e.g. "until=<timestamp>")',
          convert=filter_pair, metavar="filter"),
     Flag("force", "f", "bool", help="Do not prompt for confirmation")),
    max_args=0, kind="prune")
CONNECT = Command(
    "connect", "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network",
    (Flag("alias", kind="list", convert=_strings, metavar="strings",
          help="Add network-scoped alias for the container"),
     Flag("ip", kind="str", default="", help='IPv4 address (e.g., "172.30.100.104")'),
     Flag("link", kind="list", convert=validate_link, help="Add link to another container")),
    min_args=2, max_args=2, kind="connect")
DISCONNECT = Command(
    "disconnect", "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network",
    (Flag("force", "f", "bool", help="Force the container to disconnect from a network"),),
    min_args=2, max_args=2, kind="disconnect")

PRUNE_WARNING = ("WARNING! This will remove all custom networks not used by at least one "
                 "container.\nAre you sure you want to continue?")


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    verb = ctx.path.split()[-1]
    return _VERBS[{"list": "ls", "remove": "rm"}.get(verb, verb)](ctx, opts, args)


def _flat(values: list[list[str]]) -> list[str]:
    return [item for group in values for item in group]


def _pairs(entries: list[str]) -> dict[str, str]:
    """docker's ``ConvertKVStringsToMap``: ``k=v``, or ``k`` with an empty value."""
    return {key: value for key, _, value in (e.partition("=") for e in entries)}


def ipam_pools(subnets: list[str], ranges: list[str], gateways: list[str],
               ) -> tuple[IPAMPool, ...]:
    """docker's ``createIPAMConfig``: each range and gateway goes to the subnet that
    contains it; overlapping subnets, a second range or gateway for one subnet, or one
    that fits none are refused with docker's words."""
    from ipaddress import ip_address, ip_network

    def net(text: str, what: str = "") -> Any:
        try:
            if "/" not in text:
                raise ValueError(text)
            return ip_network(text, strict=False)
        except ValueError:
            raise StatusError(1, f"{what}invalid CIDR address: {text}") from None

    def address(text: str, key: str) -> Any:
        if key == "ip_range" or "/" in text:
            return net(text).network_address
        try:
            return ip_address(text)
        except ValueError:
            return None  # Go's ParseIP gives nil, which no subnet contains

    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise StatusError(1, "every ip-range or gateway must have a corresponding subnet")
    parsed = {s: net(s, "invalid subnet: ") for s in subnets}
    for i, s in enumerate(subnets):
        if any(parsed[s].overlaps(parsed[t]) for t in subnets[:i]):
            raise StatusError(1, "multiple overlapping subnet configuration is not supported")
    chosen: dict[str, dict[str, str]] = {s: {} for s in subnets}
    for key, what, where, values in (("ip_range", "range", "on", ranges),
                                     ("gateway", "gateway", "for", gateways)):
        for value in values:
            found = address(value, key)
            matches = [s for s in subnets if found is not None and found in parsed[s]]
            if not matches:
                raise StatusError(1, f"no matching subnet for {what} {value}")
            for s in matches:
                if key in chosen[s]:
                    raise StatusError(1, f"cannot configure multiple {what}s ({value}, "
                                         f"{chosen[s][key]}) {where} the same subnet ({s})")
                chosen[s][key] = value
    return tuple(IPAMPool(s, chosen[s].get("ip_range", ""), chosen[s].get("gateway", ""))
                 for s in subnets)


def _create(ctx: Context, opts: Options, args: list[str]) -> int:
    spec = NetworkCreate(
        args[0], driver=opts.driver, internal=opts.internal, attachable=opts.attachable,
        labels=_pairs(opts.label), options=_pairs(opts.opt), ipam_driver=opts.ipam_driver,
        pools=ipam_pools(_flat(opts.subnet), _flat(opts.ip_range), _flat(opts.gateway)))
    ctx.out(ctx.client.networks.create(spec))
    return 0


LS_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
LS_HEADERS: dict[str, object] = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
    "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}


def natural_key(text: str) -> list[tuple[int, int | str]]:
    """docker's ``sortorder.NaturalLess``: digit runs compare as numbers."""
    key: list[tuple[int, int | str]] = []
    run = ""
    for char in text + "\0":
        if char.isdigit() == run[:1].isdigit() and run and char != "\0":
            run += char
            continue
        if run:
            key.append((0, int(run)) if run.isdigit() else (1, run))
        run = char
    return key


def go_time_text(rfc3339: str) -> str:
    """Go's ``time.Time.String()`` of a timestamp the daemon sent in RFC 3339:
    "2024-01-02 15:04:05.123456789 +0000 UTC"."""
    if "T" not in rfc3339:
        return rfc3339
    date, _, clock = rfc3339.partition("T")
    if clock.endswith("Z"):
        clock, zone = clock[:-1], "+0000 UTC"
    else:
        sign = "+" if "+" in clock else "-"
        clock, _, offset = clock.rpartition(sign)
        zone = f"{sign}{offset.replace(':', '')}"
        zone = f"{zone} {zone}"
    whole, _, frac = clock.partition(".")
    frac = frac.rstrip("0")
    return f"{date} {whole}{'.' + frac if frac else ''} {zone}"


def network_row(n: NetworkSummary, trunc: bool) -> dict[str, Any]:
    """The fields ``network ls --format`` sees (docker's ``networkContext``)."""
    labels = n.labels
    label: Callable[[str], str] = lambda name: labels.get(name, "")  # noqa: E731
    return {
        "CreatedAt": go_time_text(n.created), "Driver": n.driver,
        "ID": truncate_id(n.id) if trunc else n.id,
        "IPv4": str(n.enable_ipv4).lower(), "IPv6": str(n.enable_ipv6).lower(),
        "Internal": str(n.internal).lower(),
        "Label": label, "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "Name": n.name, "Scope": n.scope,
    }


def _ls(ctx: Context, opts: Options, args: list[str]) -> int:
    networks = sorted(ctx.client.networks.list(parse_filters(opts.filter)),
                      key=lambda n: natural_key(n.name))
    fmt = pick_format(opts.format, opts.quiet, LS_DEFAULT, "{{.ID}}")
    rows = [network_row(n, trunc=not opts.no_trunc) for n in networks]
    if ".Label " not in fmt:
        for r in rows:
            del r["Label"]  # a method in docker: invisible to {{json .}}
    ctx.stdout.write(render(fmt, rows, LS_HEADERS))
    return 0


def _inspect(ctx: Context, opts: Options, args: list[str]) -> int:
    verbose = bool(opts.verbose)
    return inspect_all(ctx, opts.format, args,
                       [lambda name: ctx.client.networks.inspect(name, verbose)], typed=True)


def _rm(ctx: Context, opts: Options, args: list[str]) -> int:
    failed = False
    for name in args:
        try:
            ctx.client.networks.remove(name)
        except errors.BerthError as err:
            if opts.force and isinstance(err, errors.NotFound):
                continue
            reraise_unreachable(err)
            ctx.err(daemon_message(err))
            failed = True
            continue
        ctx.out(name)
    return 1 if failed else 0


def _prune(ctx: Context, opts: Options, args: list[str]) -> int:
    filters = parse_filters(opts.filter)
    if not opts.force and not confirm(ctx, PRUNE_WARNING):
        return 0  # docker's cancelled prune: no message, exit 0
    deleted = ctx.client.networks.prune(filters)
    if deleted:
        ctx.out("Deleted Networks:\n" + "".join(f"{name}\n" for name in deleted))
    return 0


def _connect(ctx: Context, opts: Options, args: list[str]) -> int:
    endpoint = EndpointConfig(aliases=tuple(_flat(opts.alias)), links=tuple(opts.link),
                              ipv4_address=opts.ip)
    ctx.client.networks.connect(args[0], args[1], endpoint)
    return 0


def _disconnect(ctx: Context, opts: Options, args: list[str]) -> int:
    ctx.client.networks.disconnect(args[0], args[1], force=opts.force)
    return 0


_VERBS: dict[str, Callable[[Context, Options, list[str]], int]] = {
    "create": _create, "ls": _ls, "inspect": _inspect, "rm": _rm, "prune": _prune,
    "connect": _connect, "disconnect": _disconnect,
}
