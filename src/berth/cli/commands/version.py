"""``berth version``: the client's and the daemon's versions, as docker lays them out."""

from __future__ import annotations

import os
import sys

from berth import __version__, errors
from berth.cli.command import Command
from berth.cli.flags import Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.api.types import responses as wire
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "version", "[OPTIONS]", "Show the Berth version information",
    (Flag("format", "f", "str", "", "Format output using a custom template"),), max_args=0)


def _client_info(ctx: Context) -> dict[str, Any]:
    return {
        "Version": __version__, "ApiVersion": ctx.api_version,
        # what platform.python_version() and platform.machine() say, without importing
        # ``platform`` (milliseconds at every start)
        "PythonVersion": sys.version.split()[0], "Os": sys.platform,
        "Arch": os.uname().machine, "Context": "default",
    }


def _lines(title: str, pairs: list[tuple[str, Any]], indent: str) -> list[str]:
    width = max(len(k) for k, _ in pairs) + 2
    return [title] + [f"{indent}{(k + ':').ljust(width)}{v}" for k, v in pairs]


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    client = _client_info(ctx)
    server: wire.SystemVersion | None = None
    failure: errors.BerthError | None = None
    try:
        server = ctx.client.version()
    except errors.BerthError as err:
        failure = err
    if opts.format:
        from berth.cli.output import render_one

        ctx.stdout.write(render_one(opts.format, {"Client": client, "Server": server}))
    else:
        lines = _lines("Client:", [
            ("Version", client["Version"]), ("API version", client["ApiVersion"]),
            ("Python version", client["PythonVersion"]),
            ("OS/Arch", f"{client['Os']}/{client['Arch']}"), ("Context", "default")], " ")
        if server is not None:
            lines += ["", "Server:", *_lines(" Engine:", [
                ("Version", server.get("Version", "")),
                ("API version", f"{server.get('ApiVersion', '')} (minimum version "
                                f"{server.get('MinAPIVersion', '')})"),
                ("Git commit", server.get("GitCommit", "")),
                ("Built", server.get("BuildTime", "")),
                ("OS/Arch", f"{server.get('Os', '')}/{server.get('Arch', '')}"),
                ("Experimental", str(server.get("Experimental", False)).lower())], "  ")]
            for comp in server.get("Components") or ():
                if comp.get("Name") != "Engine":
                    lines += [f" {comp.get('Name')}:", f"  {'Version:'.ljust(18)}"
                                                       f"{comp.get('Version', '')}"]
        ctx.out("\n".join(lines))
    if failure is not None:
        raise failure
    return 0
