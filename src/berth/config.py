"""Daemon configuration: ``daemon.toml`` plus command-line flags, as frozen dataclasses.

Flags win over the file. Only this module and ``cli/main.py`` read the environment.
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from berth.errors import InvalidArgument

DEFAULT_DATA_ROOT = Path("/var/lib/berth")
DEFAULT_EXEC_ROOT = Path("/run/berth")
RUNTIMES = ("native", "runc", "crun")


@dataclass(frozen=True)
class DaemonConfig:
    data_root: Path = DEFAULT_DATA_ROOT
    exec_root: Path = DEFAULT_EXEC_ROOT
    host: str = ""  # unix:///path; empty means exec_root/berth.sock
    runtime: str = "native"
    snapshotter: str = "overlay"
    cgroup_parent: str = "berth"
    debug: bool = False

    @property
    def socket_path(self) -> Path:
        if not self.host:
            return self.exec_root / "berth.sock"
        if not self.host.startswith("unix://"):
            raise InvalidArgument(f"unsupported host {self.host!r}: only unix:// sockets")
        return Path(self.host[len("unix://"):])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berthd", description="The Berth container daemon")
    p.add_argument("--config-file", type=Path, default=None, help="daemon.toml")
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--exec-root", type=Path, default=None)
    p.add_argument("-H", "--host", default=None, help="unix:///path of the API socket")
    p.add_argument("--runtime", default=None, help="native (default), runc, crun or a path")
    p.add_argument("--snapshotter", default=None, choices=("overlay", "native"))
    p.add_argument("--cgroup-parent", default=None)
    p.add_argument("-D", "--debug", action="store_true", default=None)
    return p


def load(argv: list[str]) -> DaemonConfig:
    args = _parser().parse_args(argv)
    values: dict[str, object] = {}
    if args.config_file is not None:
        try:
            raw = tomllib.loads(args.config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise InvalidArgument(f"cannot read {args.config_file}: {err}") from err
        known = {f.name for f in fields(DaemonConfig)}
        for key, value in raw.items():
            name = key.replace("-", "_")
            if name not in known:
                raise InvalidArgument(f"unknown key {key!r} in {args.config_file}")
            values[name] = Path(value) if name in ("data_root", "exec_root") else value
    for f in fields(DaemonConfig):
        flag = getattr(args, f.name, None)
        if flag is not None:
            values[f.name] = flag
    config = DaemonConfig(**values)  # type: ignore[arg-type]
    config.socket_path  # noqa: B018 - validates the host early
    return config
