"""``berth update [OPTIONS] CONTAINER [CONTAINER...]``: new limits or restart policy
(docker's ``container update``): each container's name as it is updated, then the
daemon's warnings; a failure is reported per container and the exit is 1."""

from __future__ import annotations

from berth.cli.command import Command, Context, StatusError, each
from berth.cli.flags import Options
from berth.cli.resourceflags import UPDATE_FLAGS
from berth.cli.runconfig import parse_restart_policy
from berth.client.resources import ContainerResources, ResourceUpdate

COMMAND = Command("update", "[OPTIONS] CONTAINER [CONTAINER...]",
                  "Update configuration of one or more containers", UPDATE_FLAGS, min_args=1,
                  aliases=("container update", "update"))


def build_update(opts: Options) -> ResourceUpdate:
    """The body docker's CLI sends: a pids limit of 0 is "not given", the real-time
    fields only when set (the daemon refuses them by name)."""
    policy = None
    if opts.restart:
        restart = parse_restart_policy(opts.restart)
        policy = {"Name": restart.name, "MaximumRetryCount": restart.maximum_retry_count}
    return ResourceUpdate(ContainerResources(
        memory=opts.memory, memory_swap=opts.memory_swap,
        memory_reservation=opts.memory_reservation, nano_cpus=opts.cpus,
        cpu_shares=opts.cpu_shares, cpu_period=opts.cpu_period, cpu_quota=opts.cpu_quota,
        cpuset_cpus=opts.cpuset_cpus, cpuset_mems=opts.cpuset_mems,
        pids_limit=opts.pids_limit or None, blkio_weight=opts.blkio_weight,
        realtime=(opts.cpu_rt_period, opts.cpu_rt_runtime)), policy)


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    if not opts.given:
        raise StatusError(1, "you must provide one or more flags when using this command")
    change = build_update(opts)
    warnings: list[str] = []

    def update(name: str) -> None:
        warnings.extend(ctx.client.containers.update(name, change))

    status = each(ctx, args, update)
    if warnings:
        ctx.out("\n".join(warnings))
    return status
