"""``berth logout [SERVER]``: forget the credentials ``login`` stored."""

from __future__ import annotations

from berth.cli import credentials
from berth.cli.command import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "logout", "[SERVER]",
    "Log out from a registry.\nIf no server is specified, the default is defined by the "
    "daemon.", max_args=1, aliases=("logout",))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    server = args[0] if args else credentials.HUB_SERVER
    shown = credentials.server_key(server)
    if credentials.remove(ctx.env, server):
        ctx.out(f"Removing login credentials for {shown}")
    else:
        ctx.out(f"Not logged in to {shown}")
    return 0
