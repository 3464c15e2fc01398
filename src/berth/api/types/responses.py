"""The JSON berthd answers with (API 1.45), each shape defined once: the server's
rendering functions return these, and the client decodes them.

They are ``TypedDict``s, not ``msgspec.Struct``s as the request bodies are: a response
needs no validation (berthd wrote it), and a ``TypedDict`` costs nothing at run time. The
client imports this module only under ``TYPE_CHECKING``, so ``berth run`` and ``berth ps``
never import it (nor ``typing``, nor msgspec), while mypy still checks that every key the
client reads is one the server writes, with the server's type. A key docker leaves out
when it is empty (Go's ``omitempty``) or that berth writes only sometimes is
``NotRequired``; a Go slice or map that may be nil is ``... | None`` (JSON ``null``).

Two parts are request models rendered with ``containers.to_builtins`` and typed here as
``StructDoc``: inspect's ``HostConfig`` (``containers.HostConfig``) and
``Config.Healthcheck`` (``containers.HealthConfig``); the Struct is their one definition.

No ``from __future__ import annotations`` here: Python 3.11's ``TypedDict`` cannot see
``NotRequired`` inside a string annotation, and ``__optional_keys__`` would come out empty.
"""

from typing import Any, NotRequired, TypedDict

from berth.api.types.volumes import Volume

# A request Struct rendered with ``containers.to_builtins``: the Struct owns its keys.
StructDoc = dict[str, Any]
# Go's ``map[string]struct{}`` (ExposedPorts, Volumes): each value is ``{}``.
EmptyObjects = dict[str, dict[str, Any]]


# --- containers: GET /containers/{id}/json, GET /containers/json, create, wait ---

class HealthcheckResult(TypedDict):
    Start: str
    End: str
    ExitCode: int
    Output: str


class Health(TypedDict):
    Status: str  # "starting", "healthy", "unhealthy"
    FailingStreak: int
    Log: list[HealthcheckResult]


class ContainerState(TypedDict):
    Status: str
    Running: bool
    Paused: bool
    Restarting: bool
    OOMKilled: bool
    Dead: bool
    Pid: int
    ExitCode: int
    Error: str
    StartedAt: str
    FinishedAt: str
    Health: NotRequired[Health]  # only for a container with a healthcheck


class ContainerConfig(TypedDict):
    """Inspect's ``Config``: the create request's Config after merging the image's."""

    Hostname: str
    Domainname: str
    User: str
    AttachStdin: bool
    AttachStdout: bool
    AttachStderr: bool
    ExposedPorts: NotRequired[EmptyObjects]
    Tty: bool
    OpenStdin: bool
    StdinOnce: bool
    Env: list[str]
    Cmd: list[str] | None
    Healthcheck: NotRequired[StructDoc]  # containers.HealthConfig
    Image: str
    Volumes: EmptyObjects | None
    WorkingDir: str
    Entrypoint: list[str] | None
    NetworkDisabled: NotRequired[bool]
    OnBuild: list[str] | None
    Labels: dict[str, str]
    StopSignal: NotRequired[str]
    StopTimeout: NotRequired[int]


class GraphDriverData(TypedDict):
    Name: str
    Data: dict[str, str] | None


class MountPoint(TypedDict):
    Type: str
    Name: NotRequired[str]  # omitempty in docker's types.MountPoint: volumes only
    Source: str
    Destination: str
    Driver: NotRequired[str]
    Mode: str
    RW: bool
    Propagation: str


class PortBinding(TypedDict):
    HostIp: str
    HostPort: str


class EndpointIPAMConfig(TypedDict):
    IPv4Address: NotRequired[str]  # omitempty


class EndpointSettings(TypedDict):
    """A container's place on one network (inspect's and ps's ``Networks``)."""

    IPAMConfig: EndpointIPAMConfig | None
    Links: list[str] | None
    Aliases: list[str] | None
    MacAddress: str
    DriverOpts: dict[str, str] | None
    NetworkID: str
    EndpointID: str
    Gateway: str
    IPAddress: str
    IPPrefixLen: int
    IPv6Gateway: str
    GlobalIPv6Address: str
    GlobalIPv6PrefixLen: int
    DNSNames: list[str] | None


class NetworkSettings(TypedDict):
    """Inspect's ``NetworkSettings``; the top-level address fields are the default
    bridge endpoint's (docker's deprecated ``DefaultNetworkSettings``), empty otherwise."""

    Bridge: str
    SandboxID: str
    SandboxKey: str
    Ports: dict[str, list[PortBinding] | None]  # null: exposed, not published
    HairpinMode: bool
    LinkLocalIPv6Address: str
    LinkLocalIPv6PrefixLen: int
    SecondaryIPAddresses: list[dict[str, Any]] | None
    SecondaryIPv6Addresses: list[dict[str, Any]] | None
    EndpointID: str
    Gateway: str
    GlobalIPv6Address: str
    GlobalIPv6PrefixLen: int
    IPAddress: str
    IPPrefixLen: int
    IPv6Gateway: str
    MacAddress: str
    Networks: dict[str, EndpointSettings]


class ContainerInspect(TypedDict):
    """``GET /containers/{id}/json``."""

    Id: str
    Created: str
    Path: str
    Args: list[str]
    State: ContainerState
    Image: str
    ResolvConfPath: str
    HostnamePath: str
    HostsPath: str
    LogPath: str
    Name: str
    RestartCount: int
    Driver: str
    Platform: str
    MountLabel: str
    ProcessLabel: str
    AppArmorProfile: str
    ExecIDs: list[str] | None
    SizeRw: NotRequired[int]  # with ?size=1
    SizeRootFs: NotRequired[int]
    HostConfig: StructDoc  # containers.HostConfig
    GraphDriver: GraphDriverData
    Mounts: list[MountPoint]
    Config: ContainerConfig
    NetworkSettings: NetworkSettings


class Port(TypedDict):
    IP: NotRequired[str]
    PrivatePort: int
    PublicPort: NotRequired[int]
    Type: str  # "tcp", "udp", "sctp"


class SummaryHostConfig(TypedDict):
    NetworkMode: str


class SummaryNetworkSettings(TypedDict):
    Networks: dict[str, EndpointSettings]


class ContainerSummary(TypedDict):
    """One item of ``GET /containers/json``; ``/system/df`` adds the sizes."""

    Id: str
    Names: list[str]
    Image: str
    ImageID: str
    Command: str
    Created: int  # unix seconds
    Ports: list[Port]
    SizeRw: NotRequired[int]
    SizeRootFs: NotRequired[int]
    Labels: dict[str, str]
    State: str
    Status: str
    HostConfig: SummaryHostConfig
    NetworkSettings: SummaryNetworkSettings
    Mounts: list[MountPoint]


class ContainerCreateResponse(TypedDict):
    """``POST /containers/create`` (201)."""

    Id: str
    Warnings: list[str]


class ContainerWaitExitError(TypedDict):
    Message: str


class ContainerWaitResponse(TypedDict):
    """``POST /containers/{id}/wait``."""

    StatusCode: int
    Error: NotRequired[ContainerWaitExitError]  # omitted when there is none


# --- networks: GET /networks, GET /networks/{id}, create, prune ---

class NetworkIPAMConfig(TypedDict):
    Subnet: NotRequired[str]  # each omitempty
    IPRange: NotRequired[str]
    Gateway: NotRequired[str]


class NetworkIPAM(TypedDict):
    Driver: str
    Options: dict[str, str] | None
    Config: list[NetworkIPAMConfig]


class NetworkConfigReference(TypedDict):
    Network: str


class NetworkContainer(TypedDict):
    Name: str
    EndpointID: str
    MacAddress: str
    IPv4Address: str  # "172.18.0.2/16"
    IPv6Address: str


class NetworkInspect(TypedDict):
    """``GET /networks/{id}`` and each item of ``GET /networks`` (whose Containers is
    ``{}``, as docker's list leaves it)."""

    Name: str
    Id: str
    Created: str
    Scope: str
    Driver: str
    EnableIPv4: bool  # API 1.47's; docker CLI 28 shows it
    EnableIPv6: bool
    IPAM: NetworkIPAM
    Internal: bool
    Attachable: bool
    Ingress: bool
    ConfigFrom: NetworkConfigReference
    ConfigOnly: bool
    Containers: dict[str, NetworkContainer]
    Options: dict[str, str]
    Labels: dict[str, str]


class NetworkCreateResponse(TypedDict):
    """``POST /networks/create`` (201)."""

    Id: str
    Warning: str


class NetworkPruneResponse(TypedDict):
    """``POST /networks/prune``: the names removed (null when none)."""

    NetworksDeleted: list[str] | None


# --- exec: GET /exec/{id}/json ---

class ProcessConfig(TypedDict):
    tty: bool
    entrypoint: str
    arguments: list[str]
    privileged: bool
    user: str


class ExecInspect(TypedDict):
    """``GET /exec/{id}/json``."""

    ID: str
    ContainerID: str
    Running: bool
    ExitCode: int | None  # null until the process has exited
    Pid: int
    CanRemove: bool
    DetachKeys: str
    OpenStdin: bool
    OpenStdout: bool
    OpenStderr: bool
    ProcessConfig: ProcessConfig


# --- images: GET /images/json, GET /images/{name}/json, history ---

class ImageSummary(TypedDict):
    """One item of ``GET /images/json``; ``/system/df`` fills SharedSize and Containers."""

    Id: str
    ParentId: str
    RepoTags: list[str]
    RepoDigests: list[str]
    Created: int  # unix seconds
    Size: int
    SharedSize: int  # -1: not computed
    VirtualSize: int
    Labels: dict[str, str]
    Containers: int  # -1: not computed


class ImageConfig(TypedDict, total=False):
    """Image inspect's ``Config``: the ``config`` of the image's config blob, passed on as
    the image holds it, so only the keys it has (``oci.image.ContainerConfig``, which
    mypy checks against this where the server hands it over)."""

    User: str
    ExposedPorts: dict[str, dict[str, object]]
    Env: list[str]
    Entrypoint: list[str] | None
    Cmd: list[str] | None
    Volumes: dict[str, dict[str, object]]
    WorkingDir: str
    Labels: dict[str, str]
    StopSignal: str
    Healthcheck: dict[str, object]
    OnBuild: list[str]
    Shell: list[str]


class RootFS(TypedDict):
    Type: str
    Layers: list[str]


class ImageMetadata(TypedDict):
    LastTagTime: str


class ImageInspect(TypedDict):
    """``GET /images/{name}/json``."""

    Id: str
    RepoTags: list[str]
    RepoDigests: list[str]
    Parent: str
    Comment: str
    Created: str
    DockerVersion: str
    Author: str
    Config: ImageConfig
    Architecture: str
    Os: str
    Size: int
    VirtualSize: int
    GraphDriver: GraphDriverData
    RootFS: RootFS
    Metadata: ImageMetadata


class HistoryResponseItem(TypedDict):
    """One item of ``GET /images/{name}/history``, newest first."""

    Id: str  # "<missing>" for a layer no local image is
    Created: int  # unix seconds
    CreatedBy: str
    Tags: list[str] | None
    Size: int
    Comment: str


# --- system: /version, /info, /events, /system/df ---

class ComponentVersion(TypedDict):
    Name: str
    Version: str
    Details: dict[str, str]


class PlatformName(TypedDict):
    Name: str


class SystemVersion(TypedDict):
    """``GET /version``."""

    Platform: PlatformName
    Components: list[ComponentVersion]
    Version: str
    ApiVersion: str
    MinAPIVersion: str
    GitCommit: str
    GoVersion: str
    Os: str
    Arch: str
    KernelVersion: str
    Experimental: NotRequired[bool]  # omitempty: dockerd sends it only when true
    BuildTime: str


class PluginsInfo(TypedDict):
    Volume: list[str]
    Network: list[str]
    Log: list[str]


class Runtime(TypedDict):
    path: str


class SwarmInfo(TypedDict):
    LocalNodeState: str


class SystemInfo(TypedDict):
    """``GET /info``: the fields berth reports (docker's has more)."""

    ID: str
    Containers: int
    ContainersRunning: int
    ContainersPaused: int
    ContainersStopped: int
    Images: int
    Driver: str
    DriverStatus: list[list[str]]
    Plugins: PluginsInfo
    MemoryLimit: bool
    SwapLimit: bool
    CpuCfsPeriod: bool
    CpuCfsQuota: bool
    CPUShares: bool
    CPUSet: bool
    PidsLimit: bool
    OomKillDisable: bool
    IPv4Forwarding: bool
    Debug: bool
    NFd: int
    NGoroutines: int
    SystemTime: str
    LoggingDriver: str
    CgroupDriver: str
    CgroupVersion: str
    NEventsListener: int
    KernelVersion: str
    OperatingSystem: str
    OSType: str
    OSVersion: str
    Architecture: str
    NCPU: int
    MemTotal: int
    IndexServerAddress: str
    RegistryConfig: dict[str, Any]  # api/server/distribution.registry_config
    DockerRootDir: str
    HttpProxy: str
    HttpsProxy: str
    NoProxy: str
    Name: str
    Labels: list[str]
    ExperimentalBuild: bool
    ServerVersion: str
    Runtimes: dict[str, Runtime]
    DefaultRuntime: str
    Swarm: SwarmInfo
    LiveRestoreEnabled: bool
    Isolation: str
    InitBinary: str
    SecurityOptions: list[str]
    Warnings: list[str]


class EventActor(TypedDict):
    ID: str
    Attributes: dict[str, str]


# One JSON line of ``GET /events``. The functional form: ``from`` is a Python keyword.
EventMessage = TypedDict("EventMessage", {
    "status": str,  # the next three: the pre-1.22 form docker still sends
    "id": str,
    "from": str,
    "Type": str,
    "Action": str,
    "Actor": EventActor,
    "scope": str,
    "time": int,  # unix seconds
    "timeNano": int,
})


class SystemDataUsage(TypedDict):
    """``GET /system/df``."""

    LayersSize: int
    Images: list[ImageSummary]
    Containers: list[ContainerSummary]
    Volumes: list[Volume]  # each with its UsageData
    BuildCache: list[dict[str, Any]]  # berth reports none yet
