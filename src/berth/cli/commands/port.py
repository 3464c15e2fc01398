"""``berth port CONTAINER [PRIVATE_PORT[/PROTO]]``: the host side of published ports, from
the container's ``NetworkSettings.Ports`` (docker's ``runPort``)."""

from __future__ import annotations

from berth.cli.command import Command, StatusError
from berth.cli.commands.network import natural_key
from berth.cli.portspec import parse_uint16

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
    "List port mappings or a specific mapping for the container", min_args=1, max_args=2,
    aliases=("container port", "port"))


def host_address(ip: str, port: str) -> str:
    """Go's ``net.JoinHostPort``: an IPv6 host in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def mappings(ports: dict[str, list[dict[str, str]] | None], wanted: str = "",
             ) -> list[str]:
    """``PORT/PROTO -> IP:PORT`` lines (or, for one ``wanted`` port, ``IP:PORT`` lines),
    in docker's natural order."""
    out = [f"{host_address(b.get('HostIp', ''), b.get('HostPort', ''))}" if wanted
           else f"{port} -> {host_address(b.get('HostIp', ''), b.get('HostPort', ''))}"
           for port, bindings in ports.items() if not wanted or port == wanted
           for b in bindings or ()]
    return sorted(out, key=natural_key)


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    name = args[0]
    doc = ctx.client.containers.inspect(name)
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    wanted = ""
    if len(args) > 1:
        port, _, proto = args[1].partition("/")
        try:
            parse_uint16(port)
        except ValueError as err:
            raise StatusError(1, f"Error: invalid port ({port}): {err}") from None
        wanted = f"{port}/{proto or 'tcp'}"
        if not ports.get(wanted):
            raise StatusError(1, f"Error: No public port '{args[1]}' published for {name}")
    lines = mappings(ports, wanted)  # type: ignore[arg-type]
    if lines:
        ctx.out("\n".join(lines))
    return 0
