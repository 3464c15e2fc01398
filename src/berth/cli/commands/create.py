"""``berth create``, and the create-or-pull step ``run`` shares with it."""

from __future__ import annotations

from berth import errors
from berth.cli.command import PROG, Command, Context, StatusError, run_error
from berth.cli.flags import Options
from berth.cli.jsonmessage import split_tag
from berth.cli.runconfig import SHARED_FLAGS, USAGE, build_spec, familiar_tagged
from berth.client.containerspec import ContainerSpec
from berth.client.models import Created

COMMAND = Command("create", USAGE, "Create a new container", SHARED_FLAGS, min_args=1,
                  interspersed=False, aliases=("container create", "create"))


def pull(ctx: Context, image: str) -> None:
    """Pull ``image`` with progress on stderr; a failure in the stream is an error."""
    name, tag = split_tag(image)  # a digest travels as the tag, as docker's
    for progress in ctx.client.images.pull(name, tag or "latest"):
        if progress.error:
            raise StatusError(125, f"{PROG}: {progress.error}\n\n"
                                   f"Run '{ctx.path} --help' for more information")
        if progress.status:
            prefix = f"{progress.id}: " if progress.id else ""
            ctx.err(f"{prefix}{progress.status}")


def create_container(ctx: Context, spec: ContainerSpec, name: str,
                     platform: str = "") -> Created:
    """Create, pulling the image first if the daemon does not have it (docker's
    ``createContainer``); daemon errors become exit 125."""
    try:
        try:
            created = ctx.client.containers.create(spec, name, platform)
        except errors.NotFound:
            ctx.err(f"Unable to find image '{familiar_tagged(spec.image)}' locally")
            pull(ctx, spec.image)
            created = ctx.client.containers.create(spec, name, platform)
    except errors.BerthError as err:
        if ctx.path.endswith(" create"):
            raise  # docker's create prints the daemon's error as is and exits 1
        raise run_error(ctx.path, err) from err
    for warning in created.warnings:
        ctx.err(f"WARNING: {warning}")
    return created


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    spec = build_spec(opts, args, ctx.env, detach=False)
    created = create_container(ctx, spec, opts.name, opts.platform)
    ctx.out(created.id)
    return 0
