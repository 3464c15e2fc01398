"""``berth exec [-dit] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]``.

docker's order: inspect first (so "No such container" wins over everything), check the
tty before creating the exec (an exec, once created, cannot be deleted), then create,
start (hijacked, or detached), and read the exit code from the exec's inspect."""

from __future__ import annotations

from berth.cli.attach import StreamIO, pump
from berth.cli.command import Command, Context, StatusError
from berth.cli.flags import Flag, Options
from berth.cli.runconfig import read_env_file
from berth.cli.terminal import check_tty
from berth.cli.terminal import size as terminal_size
from berth.client.execs import ExecSpec

COMMAND = Command(
    "exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container",
    (Flag("detach", "d", "bool", help="Detached mode: run command in the background"),
     Flag("detach-keys", kind="str", default="", help="Override the key sequence for "
          "detaching a container"),
     Flag("env", "e", "list", help="Set environment variables"),
     Flag("env-file", kind="list", help="Read in a file of environment variables"),
     Flag("interactive", "i", "bool", help="Keep STDIN open even if not attached"),
     Flag("privileged", kind="bool", help="Give extended privileges to the command"),
     Flag("tty", "t", "bool", help="Allocate a pseudo-TTY"),
     Flag("user", "u", "str", "", 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
     Flag("workdir", "w", "str", "", "Working directory inside the container")),
    min_args=2, interspersed=False, aliases=("container exec", "exec"))


def _env(ctx: Context, opts: Options) -> tuple[str, ...]:
    """docker's ``ReadKVEnvStrings``: files first, then ``-e``; a bare name takes our
    value, or stays bare when we have none (the daemon then drops it)."""
    found = [e for path in opts.env_file for e in read_env_file(path, ctx.env)]
    for entry in opts.env:
        if "=" not in entry and entry in ctx.env:
            entry = f"{entry}={ctx.env[entry]}"
        found.append(entry)
    return tuple(found)


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    container, cmd = args[0], tuple(args[1:])
    attached = not opts.detach
    spec = ExecSpec(cmd, env=_env(ctx, opts), user=opts.user, working_dir=opts.workdir,
                    tty=opts.tty, privileged=opts.privileged,
                    attach_stdin=attached and opts.interactive, attach_stdout=attached,
                    attach_stderr=attached, detach_keys=opts.detach_keys)
    ctx.client.containers.inspect(container)
    if attached:
        check_tty(spec.attach_stdin, spec.tty, ctx.stdin.isatty())
    size = _console_size(ctx) if spec.tty else None
    execs = ctx.client.execs
    ident = execs.create(container, spec, size)
    if opts.detach:
        execs.start_detached(ident, spec.tty)
        return 0
    with execs.start(ident, spec.tty, size) as stream:
        resize = None
        if spec.tty and ctx.stdin.isatty():  # docker watches the size only then
            def resize(height: int, width: int) -> None:
                execs.resize(ident, height, width)

        if pump(ctx, stream, StreamIO(spec.tty, spec.attach_stdin, spec.detach_keys,
                                      resize)):
            raise StatusError(1, "read escape sequence")
    code = execs.inspect(ident).get("ExitCode")
    return int(code or 0)


def _console_size(ctx: Context) -> tuple[int, int] | None:
    try:
        return terminal_size(ctx.stdout.fileno())
    except (OSError, ValueError):
        return None  # stdout is no file (tests): the daemon picks the size
