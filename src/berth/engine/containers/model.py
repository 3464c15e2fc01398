"""What a container is, as the engine sees it: frozen dataclasses, no wire shapes.

``ContainerSpec`` is what a create request asks for (docker's Config + HostConfig, the
parts Berth honours); ``Container`` is the persisted record: the spec, the image it was
made from, the resolved process, and the ``State`` that changes over its life.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from berth.engine.containers.resources import Resources
from berth.engine.containers.security import Security
from berth.oci.mount import Mount


class Status(Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


@dataclass(frozen=True)
class LogConfig:
    type: str = "json-file"
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"
    maximum_retry_count: int = 0


@dataclass(frozen=True)
class Healthcheck:
    """docker's HealthConfig; durations in nanoseconds, 0 meaning "the default"."""

    test: tuple[str, ...] = ()  # ("CMD", ...), ("CMD-SHELL", cmd), ("NONE",); (): inherit
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True)
class PortBinding:
    """One ``-p``: a container port published on the host (docker's PortBinding).

    ``host_port`` 0 takes a free ephemeral port; ``host_port_end`` > 0 any free port of
    ``host_port..host_port_end``; ``host_ip`` "" is daemon.toml's default_bind_address."""

    container_port: int
    proto: str = "tcp"  # "tcp" | "udp" | "sctp"
    host_ip: str = ""
    host_port: int = 0
    host_port_end: int = 0


@dataclass(frozen=True)
class EndpointConfig:
    """One network the container joins (NetworkingConfig.EndpointsConfig, connect).

    ``network`` is the name or id the request gave until the network preparer's ``check``
    makes it the network's full id."""

    network: str
    aliases: tuple[str, ...] = ()
    ipv4_address: str = ""  # IPAMConfig.IPv4Address: "" takes the next free one
    links: tuple[tuple[str, str], ...] = ()  # (container, alias), this network only


@dataclass(frozen=True)
class MountSpec:
    """One mount a create asked for (HostConfig.Binds, HostConfig.Mounts, HostConfig.Tmpfs,
    Config.Volumes), as docker's mount.Mount; docs/design/volumes.md.

    ``source``: bind — an absolute host path; volume — a volume name ("" for an anonymous
    one until the volume preparer's ``check`` names it); tmpfs — "". ``create_source``: a
    ``-v`` bind whose missing source is made (``--mount`` refuses instead). ``mode`` is
    what inspect shows as Mode (``-v``'s third field, e.g. "ro,z"; "" for --mount)."""

    type: str  # "bind" | "volume" | "tmpfs"
    target: str
    source: str = ""
    read_only: bool = False
    propagation: str = ""  # bind: "" (rprivate) | "private" | "rprivate" | "shared" | ...
    create_source: bool = False
    nocopy: bool = False  # volume: do not seed from the image's content at target
    volume_driver: str = ""
    volume_options: tuple[tuple[str, str], ...] = ()  # a volume made by this mount
    volume_labels: tuple[tuple[str, str], ...] = ()
    tmpfs_size: int = 0  # bytes, 0: the kernel's default
    tmpfs_mode: int = 0  # 0: 1777
    tmpfs_options: tuple[str, ...] = ()  # HostConfig.Tmpfs's "size=16m,noexec"
    mode: str = ""


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    hostname: str = ""
    domainname: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    stop_signal: str = ""
    stop_timeout: int | None = None
    auto_remove: bool = False
    runtime: str = ""
    resources: Resources = field(default_factory=Resources)
    security: Security = field(default_factory=Security)
    log_config: LogConfig = field(default_factory=LogConfig)
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    readonly_rootfs: bool = False
    # "default" | "bridge" | "none" | "host" | "container:<id>" | a network's name or id
    network_mode: str = "default"
    network_disabled: bool = False
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    port_bindings: tuple[PortBinding, ...] = ()
    publish_all_ports: bool = False  # -P: every exposed port on a free host port
    links: tuple[tuple[str, str], ...] = ()  # --link (container, alias)
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()  # --add-host "name:ip" ("host-gateway" allowed)
    mac_address: str = ""
    # The networks joined, the primary one (network_mode's) first; ids after check().
    endpoints: tuple[EndpointConfig, ...] = ()
    console_size: tuple[int, int] = (0, 0)  # (height, width) of the first terminal
    ipc_mode: str = "private"
    cgroupns_mode: str = "private"
    isolation: str = ""
    init: bool = False  # HostConfig.Init: docker-init (tini) runs as PID 1
    healthcheck: Healthcheck | None = None  # after create: merged with the image's
    # Mounts besides the standard ones, each at its ``target`` (engine-internal for now:
    # a build's RUN --mount; host paths the shim can see).
    extra_mounts: tuple[Mount, ...] = ()
    # What the user asked to mount (-v, --mount, --tmpfs, anonymous -v /path; the image's
    # VOLUMEs are added by the volume preparer's check), and --volumes-from ("c" or "c:ro").
    mounts: tuple[MountSpec, ...] = ()
    volumes_from: tuple[str, ...] = ()
    # Whether the image's VOLUMEs become anonymous volumes (docker run); a build's RUN
    # container has none: its writes there belong to the layer (BuildKit's behaviour).
    image_volumes: bool = True


@dataclass(frozen=True)
class HealthProbe:
    start: str  # RFC 3339
    end: str
    exit_code: int
    output: str


@dataclass(frozen=True)
class Health:
    status: str = "starting"  # "starting" | "healthy" | "unhealthy"
    failing_streak: int = 0
    log: tuple[HealthProbe, ...] = ()  # the last few probes, oldest first


@dataclass(frozen=True)
class State:
    status: Status = Status.CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = "0001-01-01T00:00:00Z"
    finished_at: str = "0001-01-01T00:00:00Z"
    health: Health | None = None  # only for containers with a healthcheck

    @property
    def running(self) -> bool:
        return self.status in (Status.RUNNING, Status.PAUSED)


@dataclass(frozen=True)
class Container:
    id: str
    name: str  # without the leading "/"
    created: str
    spec: ContainerSpec
    image_id: str
    path: str  # argv[0] as the API shows it
    args: tuple[str, ...]
    cmd: tuple[str, ...] | None  # Config.Cmd / Config.Entrypoint after merging the image's
    entrypoint: tuple[str, ...] | None
    labels: tuple[tuple[str, str], ...]  # image labels overlaid with the request's
    env: tuple[str, ...]  # resolved: image env overlaid with the spec's
    working_dir: str
    user: str
    hostname: str
    runtime: str
    log_path: str
    state: State = field(default_factory=State)
    restart_count: int = 0
    # docker's HasBeenManuallyStopped: set by stop/kill, cleared by start; an
    # unless-stopped container is not restarted (even at daemon start) while it is set.
    manually_stopped: bool = False

    def with_state(self, **changes: Any) -> Container:
        return dataclasses.replace(self, state=dataclasses.replace(self.state, **changes))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=_enum_value, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Container:
        return _build(cls, json.loads(text))


def _enum_value(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot serialize {type(value).__name__}")


T = TypeVar("T")


def _build(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (nested) frozen dataclass from its ``asdict`` JSON."""
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: _coerce(hints[f.name], data[f.name])
              for f in dataclasses.fields(cls) if f.name in data}  # type: ignore[arg-type]
    return cls(**kwargs)


def _coerce(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(inner[0], value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value, strict=True))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    return value
