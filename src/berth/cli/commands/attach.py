"""``berth attach [--detach-keys KEYS] [--no-stdin] [--sig-proxy] CONTAINER``.

docker's order: the wait is registered before anything else (so an exit during the attach
still reports its status), the container must be running, and it is checked again once
attached, because it may have stopped in between and the stream would then never end.
Typing the detach keys ends the session with "read escape sequence" and exit 1, as
docker's attach does (``run``/``start`` detach silently)."""

from __future__ import annotations

from berth.cli.attach import StreamIO, stream_with_signals
from berth.cli.command import Command, Context, StatusError
from berth.cli.flags import Flag, Options
from berth.cli.terminal import check_tty

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.api.types import responses as wire

COMMAND = Command(
    "attach", "[OPTIONS] CONTAINER",
    "Attach local standard input, output, and error streams to a running container",
    (Flag("detach-keys", kind="str", default="", help="Override the key sequence for "
          "detaching a container"),
     Flag("no-stdin", kind="bool", help="Do not attach STDIN"),
     Flag("sig-proxy", kind="bool", default=True, help="Proxy all received signals to the "
          "process")),
    min_args=1, max_args=1, aliases=("container attach", "attach"))


def _running(ctx: Context, name: str) -> wire.ContainerInspect:
    doc = ctx.client.containers.inspect(name)
    state = doc.get("State") or {}
    if not state.get("Running"):
        raise StatusError(1, "You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise StatusError(1, "You cannot attach to a paused container, unpause it first")
    if state.get("Restarting"):
        raise StatusError(1, "You cannot attach to a restarting container, wait until it "
                             "is running")
    return doc


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    containers = ctx.client.containers
    pending = containers.wait_pending(args[0])
    try:
        doc = _running(ctx, args[0])
        ident, config = doc["Id"], doc.get("Config") or {}
        tty = bool(config.get("Tty"))
        check_tty(not opts.no_stdin, tty, ctx.stdin.isatty())
        stdin = not opts.no_stdin and bool(config.get("OpenStdin"))
        with containers.attach(ident, stdin=stdin, detach_keys=opts.detach_keys) as stream:
            _running(ctx, ident)
            io = StreamIO(tty, stdin, opts.detach_keys,
                          lambda h, w: containers.resize(ident, h, w))
            if stream_with_signals(ctx, stream, io, ident, opts.sig_proxy):
                raise StatusError(1, "read escape sequence")
        result = pending.result()
    finally:
        pending.close()
    if result.error:
        raise StatusError(1, result.error)
    return result.status_code
