"""The security half of a create request: ``--cap-add/--cap-drop``, ``--privileged``,
``--security-opt``, ``--group-add``, ``--sysctl``, ``--pid/--ipc/--uts``, ``--cgroupns``,
``--userns`` as docker's CLI sends them (issue 13): every field omitted when not given,
a seccomp profile file already read into ``seccomp=<compact JSON>``, and
``systempaths=unconfined`` sent as empty MaskedPaths/ReadonlyPaths (client-side, as
docker's CLI does)."""

from __future__ import annotations

from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final


class ContainerSecurity(Value):
    __slots__ = ("cap_add", "cap_drop", "cgroupns_mode", "group_add", "ipc_mode",
                 "pid_mode", "privileged", "security_opt", "sysctls", "unconfined_paths",
                 "userns_mode", "uts_mode")
    cap_add: Final[tuple[str, ...]]
    cap_drop: Final[tuple[str, ...]]
    privileged: Final[bool]
    security_opt: Final[tuple[str, ...]]
    unconfined_paths: Final[bool]
    group_add: Final[tuple[str, ...]]
    sysctls: Final[tuple[tuple[str, str], ...]]
    pid_mode: Final[str]
    ipc_mode: Final[str]
    uts_mode: Final[str]
    cgroupns_mode: Final[str]
    userns_mode: Final[str]

    def __init__(self, cap_add: tuple[str, ...] = (), cap_drop: tuple[str, ...] = (),
                 privileged: bool = False, security_opt: tuple[str, ...] = (),
                 unconfined_paths: bool = False, group_add: tuple[str, ...] = (),
                 sysctls: tuple[tuple[str, str], ...] = (), pid_mode: str = "",
                 ipc_mode: str = "", uts_mode: str = "", cgroupns_mode: str = "",
                 userns_mode: str = "") -> None:
        self.cap_add = cap_add
        self.cap_drop = cap_drop
        self.privileged = privileged
        self.security_opt = security_opt
        self.unconfined_paths = unconfined_paths
        self.group_add = group_add
        self.sysctls = sysctls
        self.pid_mode = pid_mode
        self.ipc_mode = ipc_mode
        self.uts_mode = uts_mode
        self.cgroupns_mode = cgroupns_mode
        self.userns_mode = userns_mode

    def fill(self, config: dict[str, Any], host: dict[str, Any]) -> None:
        """Write the Config and HostConfig fields as docker's CLI sends them."""
        for key, value in (("CapAdd", list(self.cap_add)), ("CapDrop", list(self.cap_drop)),
                           ("Privileged", self.privileged),
                           ("SecurityOpt", list(self.security_opt)),
                           ("GroupAdd", list(self.group_add)),
                           ("Sysctls", dict(self.sysctls)), ("PidMode", self.pid_mode),
                           ("IpcMode", self.ipc_mode), ("UTSMode", self.uts_mode),
                           ("CgroupnsMode", self.cgroupns_mode),
                           ("UsernsMode", self.userns_mode)):
            if value:
                host[key] = value
        if self.unconfined_paths:
            host["MaskedPaths"] = []
            host["ReadonlyPaths"] = []
