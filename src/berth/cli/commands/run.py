"""``berth run``: create (pulling if needed), then start detached or attached."""

from __future__ import annotations

from berth.cli.attach import Session, run_attached, start_detached
from berth.cli.command import Command, Context
from berth.cli.commands.create import create_container
from berth.cli.flags import Options
from berth.cli.runconfig import RUN_FLAGS, USAGE, build_spec
from berth.cli.terminal import check_tty

COMMAND = Command("run", USAGE, "Create and run a new container from an image", RUN_FLAGS,
                  min_args=1, interspersed=False, aliases=("container run", "run"))


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    spec = build_spec(opts, args, ctx.env, detach=opts.detach)
    if not opts.detach:  # before create, so a refused -it leaves no container behind
        check_tty(spec.attach_stdin, spec.tty, ctx.stdin.isatty())
    created = create_container(ctx, spec, opts.name, opts.platform)
    if opts.detach:
        start_detached(ctx, created.id)
        ctx.out(created.id)
        return 0
    session = Session(created.id, tty=spec.tty, stdin=spec.attach_stdin,
                      stdout=spec.attach_stdout or spec.attach_stderr,
                      auto_remove=spec.auto_remove, sig_proxy=opts.sig_proxy,
                      detach_keys=opts.detach_keys)
    return run_attached(ctx, session)
