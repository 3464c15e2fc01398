"""``berth login [-u USER] [-p PASS | --password-stdin] [SERVER]``: the daemon checks the
credentials against the registry; they are then stored in docker's ``config.json``."""

from __future__ import annotations

from berth.cli import credentials
from berth.cli.command import Command, StatusError
from berth.cli.flags import Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "login", "[OPTIONS] [SERVER]",
    "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
    (Flag("password", "p", "str", "", "Password or Personal Access Token (PAT)"),
     Flag("password-stdin", kind="bool", help="Take the Password or Personal Access Token "
          "(PAT) from stdin"),
     Flag("username", "u", "str", "", "Username")),
    max_args=1, aliases=("login",))


def _prompt(ctx: Context, opts: Options) -> tuple[str, str]:
    username, password = opts.username, opts.password
    if opts.password_stdin:
        if password:
            raise StatusError(1, "--password and --password-stdin are mutually exclusive")
        if not username:
            raise StatusError(1, "Must provide --username with --password-stdin")
        password = ctx.stdin.read().rstrip("\r\n")
    elif password:
        ctx.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if username and password:
        return username, password
    if not ctx.stdin.isatty():
        raise StatusError(1, "Error: Cannot perform an interactive login from a non TTY "
                             "device")
    if not username:
        ctx.stdout.write("Username: ")
        ctx.stdout.flush()
        username = ctx.stdin.readline().strip()
    if not password:
        import getpass

        password = getpass.getpass("Password: ")
    if not username or not password:
        raise StatusError(1, "Error: Non-null Username and Password Required")
    return username, password


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    server = args[0] if args else credentials.HUB_SERVER
    username, password = _prompt(ctx, opts)
    ctx.client.images.login(username, password, server)
    credentials.store(ctx.env, server, username, password)
    ctx.out("Login Succeeded")
    return 0
