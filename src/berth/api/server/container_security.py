"""A create body's security fields (capabilities, privileges, seccomp and the other
``SecurityOpt``s, namespaces) in, and inspect's HostConfig out:
``engine.containers.security.Security`` on the engine side.

    HONOURED, DEFAULTS          what create accepts (every other field set is refused)
    security_from(host)         the options a create asks for (SecurityOpt parsed as
                                moby's parseSecurityOpt: "k=v", the deprecated "k:v",
                                and the bare no-new-privileges / writable-cgroups /
                                disable)
    host_config(host, c)        inspect's HostConfig with the container's options
"""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.api.types import containers as types
from berth.engine.containers.model import Container
from berth.engine.containers.security import Security
from berth.errors import InvalidArgument

HONOURED: frozenset[str] = frozenset({
    "CapAdd", "CapDrop", "Privileged", "SecurityOpt", "GroupAdd", "Sysctls", "PidMode",
    "IpcMode", "UTSMode", "CgroupnsMode", "UsernsMode", "MaskedPaths", "ReadonlyPaths",
})
# Values that ask for exactly what every berth container gets.
DEFAULTS: dict[str, tuple[object, ...]] = {}

_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def security_from(host: types.HostConfig) -> Security:
    """The options ``host`` asks for; InvalidArgument as docker words it."""
    opts = _security_opts(host.SecurityOpt or [])
    given = list(host.SecurityOpt or [])
    if not any(o.split("=")[0] == "label" for o in given) and (
            host.IpcMode == "host" or host.PidMode == "host" or host.Privileged):
        given.append("label=disable")  # moby's generateSecurityOpt, stored with the rest
    return Security(
        cap_add=tuple(host.CapAdd or ()), cap_drop=tuple(host.CapDrop or ()),
        privileged=host.Privileged, security_opt=tuple(given),
        no_new_privileges=opts.no_new_privileges, seccomp=opts.seccomp,
        apparmor=opts.apparmor, labels=tuple(opts.labels),
        writable_cgroups=opts.writable_cgroups,
        group_add=tuple(host.GroupAdd or ()),
        sysctls=tuple((host.Sysctls or {}).items()),
        pid_mode=host.PidMode, ipc_mode=host.IpcMode or "private", uts_mode=host.UTSMode,
        cgroupns_mode=host.CgroupnsMode or "private", userns_mode=host.UsernsMode,
        masked_paths=None if host.MaskedPaths is None else tuple(host.MaskedPaths),
        readonly_paths=None if host.ReadonlyPaths is None else tuple(host.ReadonlyPaths))


@dataclass
class _Opts:
    no_new_privileges: bool = False
    writable_cgroups: bool | None = None
    seccomp: str = ""
    apparmor: str = ""
    labels: list[str] = field(default_factory=list)


def _security_opts(given: list[str]) -> _Opts:
    out = _Opts()
    for opt in given:
        if opt == "no-new-privileges":
            out.no_new_privileges = True
            continue
        if opt == "writable-cgroups":
            out.writable_cgroups = True
            continue
        if opt == "disable":
            out.labels.append("disable")
            continue
        sep = "=" if "=" in opt else ":" if ":" in opt else ""
        if not sep:
            raise InvalidArgument(f"invalid --security-opt 1: {_quote(opt)}")
        key, _, value = opt.partition(sep)
        if key == "label":
            out.labels.append(value)
        elif key == "apparmor":
            out.apparmor = value
        elif key == "seccomp":
            out.seccomp = value
        elif key in ("no-new-privileges", "writable-cgroups"):
            if value not in _TRUE + _FALSE:
                raise InvalidArgument(f"invalid --security-opt 2: {_quote(opt)}")
            if key == "no-new-privileges":
                out.no_new_privileges = value in _TRUE
            else:
                out.writable_cgroups = value in _TRUE
        else:
            raise InvalidArgument(f"invalid --security-opt 2: {_quote(opt)}")
    return out


def _quote(text: str) -> str:
    """Go's %q for the printable text an option is."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def host_config(host: types.HostConfig, c: Container) -> types.HostConfig:
    """``host`` with the security fields of ``c``; docker's nulls for what is unset."""
    sec = c.spec.security
    host.CapAdd = list(sec.cap_add) or None
    host.CapDrop = list(sec.cap_drop) or None
    host.Privileged = sec.privileged
    host.SecurityOpt = list(sec.security_opt) or None
    host.GroupAdd = list(sec.group_add) or None
    host.Sysctls = dict(sec.sysctls) or None
    host.PidMode, host.UTSMode, host.UsernsMode = sec.pid_mode, sec.uts_mode, sec.userns_mode
    # a record from before Security had them keeps them in the spec's own fields
    host.IpcMode = sec.ipc_mode or c.spec.ipc_mode
    host.CgroupnsMode = sec.cgroupns_mode or c.spec.cgroupns_mode
    # moby fills in the defaults at create unless privileged
    masked, readonly = sec.system_paths
    host.MaskedPaths = None if masked is None else list(masked)
    host.ReadonlyPaths = None if readonly is None else list(readonly)
    return host
