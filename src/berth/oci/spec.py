"""The OCI runtime spec (``config.json``) as typed JSON.

This is a wire document shared with runc and crun, so it keeps the spec's own field names
(camelCase) as TypedDicts: ``runtime.spec`` builds it, ``runtime.linux`` and any
runc-compatible binary read it. Only the fields Berth uses are listed; unknown fields in a
document read from disk are carried but ignored.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

OCI_VERSION = "1.1.0"


class User(TypedDict):
    uid: int
    gid: int
    additionalGids: NotRequired[list[int]]
    umask: NotRequired[int]


class ConsoleSize(TypedDict):
    height: int
    width: int


class Capabilities(TypedDict, total=False):
    bounding: list[str]
    effective: list[str]
    inheritable: list[str]
    permitted: list[str]
    ambient: list[str]


class Rlimit(TypedDict):
    type: str  # "RLIMIT_NOFILE"
    hard: int
    soft: int


class Process(TypedDict):
    terminal: NotRequired[bool]
    consoleSize: NotRequired[ConsoleSize]
    user: User
    args: list[str]
    env: list[str]
    cwd: str
    capabilities: NotRequired[Capabilities]
    rlimits: NotRequired[list[Rlimit]]
    noNewPrivileges: NotRequired[bool]
    oomScoreAdj: NotRequired[int]


class Root(TypedDict):
    path: str
    readonly: NotRequired[bool]


class Mount(TypedDict):
    destination: str
    type: NotRequired[str]
    source: NotRequired[str]
    options: NotRequired[list[str]]


class Namespace(TypedDict):
    type: str  # pid, network, mount, ipc, uts, user, cgroup
    path: NotRequired[str]


class MemoryResources(TypedDict, total=False):
    limit: int
    reservation: int
    swap: int
    swappiness: int
    disableOOMKiller: bool


class CpuResources(TypedDict, total=False):
    shares: int
    quota: int
    period: int
    cpus: str
    mems: str


class PidsResources(TypedDict):
    limit: int


class DeviceCgroup(TypedDict, total=False):
    allow: bool
    type: str
    major: int
    minor: int
    access: str


class WeightDevice(TypedDict):
    major: int
    minor: int
    weight: int


class ThrottleDevice(TypedDict):
    major: int
    minor: int
    rate: int


class BlockIO(TypedDict, total=False):
    weight: int
    weightDevice: list[WeightDevice]
    throttleReadBpsDevice: list[ThrottleDevice]
    throttleWriteBpsDevice: list[ThrottleDevice]
    throttleReadIOPSDevice: list[ThrottleDevice]
    throttleWriteIOPSDevice: list[ThrottleDevice]


class Resources(TypedDict, total=False):
    memory: MemoryResources
    cpu: CpuResources
    pids: PidsResources
    blockIO: BlockIO
    devices: list[DeviceCgroup]


class Device(TypedDict):
    path: str
    type: str  # "c", "b", "p"
    major: int
    minor: int
    fileMode: NotRequired[int]
    uid: NotRequired[int]
    gid: NotRequired[int]


class SeccompSyscall(TypedDict):
    names: list[str]
    action: str
    errnoRet: NotRequired[int]


class Seccomp(TypedDict):
    defaultAction: str
    defaultErrnoRet: NotRequired[int]
    architectures: NotRequired[list[str]]
    syscalls: NotRequired[list[SeccompSyscall]]


class IdMapping(TypedDict):
    containerID: int
    hostID: int
    size: int


class Linux(TypedDict):
    namespaces: list[Namespace]
    uidMappings: NotRequired[list[IdMapping]]
    gidMappings: NotRequired[list[IdMapping]]
    cgroupsPath: NotRequired[str]
    resources: NotRequired[Resources]
    devices: NotRequired[list[Device]]
    seccomp: NotRequired[Seccomp]
    maskedPaths: NotRequired[list[str]]
    readonlyPaths: NotRequired[list[str]]
    sysctl: NotRequired[dict[str, str]]


class Spec(TypedDict):
    ociVersion: str
    process: Process
    root: Root
    hostname: NotRequired[str]
    mounts: list[Mount]
    linux: Linux
    annotations: NotRequired[dict[str, str]]
