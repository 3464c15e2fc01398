"""``berth info``: the daemon's ``/info``, as docker summarises it."""

from __future__ import annotations

from berth.cli.command import Command
from berth.cli.flags import Flag
from berth.cli.output import render_one

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.api.types import responses as wire
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "info", "[OPTIONS]", "Display system-wide information",
    (Flag("format", "f", "str", "", "Format output using a custom template"),), max_args=0,
    aliases=("system info", "info"))


def _binary_size(size: float) -> str:
    """go-units ``BytesSize``: binary units ("23.54GiB")."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{units[i]}"


def _server_lines(info: wire.SystemInfo) -> list[str]:
    runtimes = " ".join(sorted(info.get("Runtimes") or {}))
    return [
        f" Containers: {info.get('Containers', 0)}",
        f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}",
        f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}",
        f" Server Version: {info.get('ServerVersion', '')}",
        f" Storage Driver: {info.get('Driver', '')}",
        f" Logging Driver: {info.get('LoggingDriver', '')}",
        f" Cgroup Driver: {info.get('CgroupDriver', '')}",
        f" Cgroup Version: {info.get('CgroupVersion', '')}",
        f" Runtimes: {runtimes}",
        f" Default Runtime: {info.get('DefaultRuntime', '')}",
        f" Kernel Version: {info.get('KernelVersion', '')}",
        f" Operating System: {info.get('OperatingSystem', '')}",
        f" OSType: {info.get('OSType', '')}",
        f" Architecture: {info.get('Architecture', '')}",
        f" CPUs: {info.get('NCPU', 0)}",
        f" Total Memory: {_binary_size(info.get('MemTotal', 0))}",
        f" Name: {info.get('Name', '')}",
        f" ID: {info.get('ID', '')}",
        f" Berth Root Dir: {info.get('DockerRootDir', '')}",
    ]


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    info = ctx.client.info()
    if opts.format:
        ctx.stdout.write(render_one(opts.format, info))
        return 0
    ctx.out("\n".join(["Client:", " Context:    default", "", "Server:",
                       *_server_lines(info)]))
    return 0
