"""The body of ``POST /containers/create`` (API 1.45): Config, HostConfig and
NetworkingConfig, every field the reference spec names, with docker's zero values.

The same models render ``HostConfig`` in ``GET /containers/{id}/json``: a value built from
what berth honours shows every other field at its zero value, in docker's shape.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from berth.api.types.decode import Int64

# Go's StrSlice: a JSON string or an array of strings.
StrSlice = list[str] | str | None
# ``[height, width]``, each a terminal dimension (moby: two uints).
ConsoleSize = Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=65535)]],
                        msgspec.Meta(min_length=2, max_length=2)]


class HealthConfig(msgspec.Struct, omit_defaults=True):
    """Also inspect's ``Config.Healthcheck``: fields in Go's order, zero ones left out."""

    Test: list[str] | None = None
    Interval: Int64 = 0
    Timeout: Int64 = 0
    StartPeriod: Int64 = 0
    StartInterval: Int64 = 0
    Retries: Int64 = 0


class RestartPolicy(msgspec.Struct):
    Name: str = ""
    MaximumRetryCount: Int64 = 0


class LogConfig(msgspec.Struct):
    Type: str = ""
    Config: dict[str, str] | None = None


class PortBinding(msgspec.Struct):
    HostIp: str = ""
    HostPort: str = ""


class BindOptions(msgspec.Struct, omit_defaults=True):
    Propagation: str = ""
    NonRecursive: bool = False
    CreateMountpoint: bool = False
    ReadOnlyNonRecursive: bool = False
    ReadOnlyForceRecursive: bool = False


class Driver(msgspec.Struct, omit_defaults=True):
    Name: str = ""
    Options: dict[str, str] | None = None


class VolumeOptions(msgspec.Struct, omit_defaults=True):
    NoCopy: bool = False
    Labels: dict[str, str] | None = None
    DriverConfig: Driver | None = None
    Subpath: str = ""


class TmpfsOptions(msgspec.Struct, omit_defaults=True):
    SizeBytes: Int64 = 0
    Mode: Int64 = 0


class Mount(msgspec.Struct, omit_defaults=True):
    """Also inspect's ``HostConfig.Mounts``: empty fields left out, as Go's omitempty
    (so are those of the option structs above)."""

    Target: str = ""
    Source: str = ""
    Type: str = ""
    ReadOnly: bool = False
    Consistency: str = ""
    BindOptions: BindOptions | None = None
    VolumeOptions: VolumeOptions | None = None
    TmpfsOptions: TmpfsOptions | None = None


class DeviceMapping(msgspec.Struct):
    PathOnHost: str = ""
    PathInContainer: str = ""
    CgroupPermissions: str = ""


class DeviceRequest(msgspec.Struct):
    Driver: str = ""
    Count: Int64 = 0
    DeviceIDs: list[str] | None = None
    Capabilities: list[list[str]] | None = None
    Options: dict[str, str] | None = None


class ThrottleDevice(msgspec.Struct):
    Path: str = ""
    Rate: Int64 = 0


class WeightDevice(msgspec.Struct):
    Path: str = ""
    Weight: Int64 = 0


class Ulimit(msgspec.Struct):
    Name: str = ""
    Soft: Int64 = 0
    Hard: Int64 = 0


class Resources(msgspec.Struct):
    """The part of HostConfig that ``docker update`` can change too."""

    CpuShares: Int64 = 0
    Memory: Int64 = 0
    CgroupParent: str = ""
    BlkioWeight: Int64 = 0
    BlkioWeightDevice: list[WeightDevice] | None = None
    BlkioDeviceReadBps: list[ThrottleDevice] | None = None
    BlkioDeviceWriteBps: list[ThrottleDevice] | None = None
    BlkioDeviceReadIOps: list[ThrottleDevice] | None = None
    BlkioDeviceWriteIOps: list[ThrottleDevice] | None = None
    CpuPeriod: Int64 = 0
    CpuQuota: Int64 = 0
    CpuRealtimePeriod: Int64 = 0
    CpuRealtimeRuntime: Int64 = 0
    CpusetCpus: str = ""
    CpusetMems: str = ""
    Devices: list[DeviceMapping] | None = None
    DeviceCgroupRules: list[str] | None = None
    DeviceRequests: list[DeviceRequest] | None = None
    KernelMemoryTCP: Int64 = 0
    MemoryReservation: Int64 = 0
    MemorySwap: Int64 = 0
    MemorySwappiness: Int64 | None = None
    NanoCpus: Int64 = 0
    OomKillDisable: bool | None = None
    Init: bool | None = None
    PidsLimit: Int64 | None = None
    Ulimits: list[Ulimit] | None = None
    CpuCount: Int64 = 0
    CpuPercent: Int64 = 0
    IOMaximumIOps: Int64 = 0
    IOMaximumBandwidth: Int64 = 0


class HostConfig(Resources):
    Binds: list[str] | None = None
    ContainerIDFile: str = ""
    LogConfig: LogConfig = msgspec.field(default_factory=LogConfig)
    NetworkMode: str = ""
    PortBindings: dict[str, list[PortBinding] | None] | None = None
    RestartPolicy: RestartPolicy = msgspec.field(default_factory=RestartPolicy)
    AutoRemove: bool = False
    VolumeDriver: str = ""
    VolumesFrom: list[str] | None = None
    Mounts: list[Mount] | None = None
    ConsoleSize: ConsoleSize | None = None
    Annotations: dict[str, str] | None = None
    CapAdd: list[str] | None = None
    CapDrop: list[str] | None = None
    CgroupnsMode: str = ""
    Dns: list[str] | None = None
    DnsOptions: list[str] | None = None
    DnsSearch: list[str] | None = None
    ExtraHosts: list[str] | None = None
    GroupAdd: list[str] | None = None
    IpcMode: str = ""
    Cgroup: str = ""
    Links: list[str] | None = None
    OomScoreAdj: Int64 = 0
    PidMode: str = ""
    Privileged: bool = False
    PublishAllPorts: bool = False
    ReadonlyRootfs: bool = False
    SecurityOpt: list[str] | None = None
    StorageOpt: dict[str, str] | None = None
    Tmpfs: dict[str, str] | None = None
    UTSMode: str = ""
    UsernsMode: str = ""
    ShmSize: Int64 = 0
    Sysctls: dict[str, str] | None = None
    Runtime: str = ""
    Isolation: str = ""
    MaskedPaths: list[str] | None = None
    ReadonlyPaths: list[str] | None = None


class EndpointIPAMConfig(msgspec.Struct, omit_defaults=True):
    """Rendered in inspect's ``Networks`` too, where Go leaves out each empty field."""

    IPv4Address: str = ""
    IPv6Address: str = ""
    LinkLocalIPs: list[str] | None = None


class EndpointSettings(msgspec.Struct):
    IPAMConfig: EndpointIPAMConfig | None = None
    Links: list[str] | None = None
    MacAddress: str = ""
    Aliases: list[str] | None = None
    NetworkID: str = ""
    EndpointID: str = ""
    Gateway: str = ""
    IPAddress: str = ""
    IPPrefixLen: Int64 = 0
    IPv6Gateway: str = ""
    GlobalIPv6Address: str = ""
    GlobalIPv6PrefixLen: Int64 = 0
    DriverOpts: dict[str, str] | None = None
    DNSNames: list[str] | None = None


class NetworkingConfig(msgspec.Struct):
    EndpointsConfig: dict[str, EndpointSettings | None] | None = None


class ContainerCreate(msgspec.Struct):
    """Config (the container's own part) with HostConfig and NetworkingConfig beside it."""

    Hostname: str = ""
    Domainname: str = ""
    User: str = ""
    AttachStdin: bool = False
    AttachStdout: bool = False
    AttachStderr: bool = False
    ExposedPorts: dict[str, dict[str, Any] | None] | None = None
    Tty: bool = False
    OpenStdin: bool = False
    StdinOnce: bool = False
    Env: list[str] | None = None
    Cmd: StrSlice = None
    Healthcheck: HealthConfig | None = None
    ArgsEscaped: bool = False
    Image: str = ""
    Volumes: dict[str, dict[str, Any] | None] | None = None
    WorkingDir: str = ""
    Entrypoint: StrSlice = None
    NetworkDisabled: bool = False
    MacAddress: str = ""
    OnBuild: list[str] | None = None
    Labels: dict[str, str] | None = None
    StopSignal: str = ""
    StopTimeout: Int64 | None = None
    Shell: list[str] | None = None
    HostConfig: HostConfig = msgspec.field(default_factory=HostConfig)
    NetworkingConfig: NetworkingConfig = msgspec.field(default_factory=NetworkingConfig)


class ContainerUpdate(Resources):
    """``POST /containers/{id}/update``: the resources and the restart policy."""

    RestartPolicy: RestartPolicy | None = None


def to_builtins(value: msgspec.Struct) -> Any:
    """A model as JSON-ready builtins (for inspect)."""
    return msgspec.to_builtins(value)
