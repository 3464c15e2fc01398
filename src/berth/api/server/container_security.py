"""A create body's security fields (capabilities, privileges, seccomp and the other
``SecurityOpt``s, namespaces) in, and inspect's HostConfig out:
``engine.containers.security.Security`` on the engine side.

    HONOURED, DEFAULTS          what create accepts (every other field set is refused)
    security_from(host)         the options a create asks for
    host_config(host, c)        inspect's HostConfig with the container's options
"""

from __future__ import annotations

from berth.api.types import containers as types
from berth.engine.containers.model import Container
from berth.engine.containers.security import Security

HONOURED: frozenset[str] = frozenset()
# Values that ask for exactly what every berth container gets.
DEFAULTS: dict[str, tuple[object, ...]] = {
    "IpcMode": ("private", "shareable"),
    "CgroupnsMode": ("private",),
}


def security_from(host: types.HostConfig) -> Security:
    """The options ``host`` asks for; InvalidArgument as docker words it."""
    return Security()


def host_config(host: types.HostConfig, c: Container) -> types.HostConfig:
    """``host`` with the security fields of ``c``."""
    host.IpcMode, host.CgroupnsMode = c.spec.ipc_mode, c.spec.cgroupns_mode
    return host
