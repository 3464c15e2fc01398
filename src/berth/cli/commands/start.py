"""``berth start [-a] [-i] CONTAINER...``."""

from __future__ import annotations

from berth import errors
from berth.cli.attach import Session, run_attached
from berth.cli.command import (
    Command,
    Context,
    StatusError,
    daemon_message,
    reraise_unreachable,
    run_error,
)
from berth.cli.flags import Flag, Options
from berth.cli.terminal import check_tty

COMMAND = Command(
    "start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers",
    (Flag("attach", "a", "bool", help="Attach STDOUT/STDERR and forward signals"),
     Flag("detach-keys", kind="str", default="", help="Override the key sequence for "
          "detaching a container"),
     Flag("interactive", "i", "bool", help="Attach container's STDIN")),
    min_args=1, aliases=("container start", "start"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    if opts.attach or opts.interactive:
        if len(args) > 1:
            raise StatusError(1, "you cannot start and attach multiple containers at once")
        return _attached(ctx, args[0], opts.interactive, opts.detach_keys)
    failed = []
    for name in args:
        try:
            ctx.client.containers.start(name)
        except errors.BerthError as err:
            reraise_unreachable(err)
            ctx.err(daemon_message(err))
            failed.append(name)
            continue
        ctx.out(name)
    if failed:
        raise StatusError(1, "Error: failed to start containers: " + ", ".join(failed))
    return 0


def _attached(ctx: Context, name: str, stdin: bool, detach_keys: str) -> int:
    try:
        doc = ctx.client.containers.inspect(name)
    except errors.BerthError as err:
        raise run_error(ctx.path, err, 1) from err
    config = doc.get("Config") or {}
    host = doc.get("HostConfig") or {}
    stdin = stdin and bool(config.get("OpenStdin"))
    check_tty(stdin, bool(config.get("Tty")), ctx.stdin.isatty())
    session = Session(doc["Id"], tty=bool(config.get("Tty")), stdin=stdin,
                      auto_remove=bool(host.get("AutoRemove")), detach_keys=detach_keys)
    return run_attached(ctx, session)
