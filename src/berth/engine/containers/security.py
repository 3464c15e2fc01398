"""A container's security options: what a create asks for of its capabilities, seccomp
profile, privileges and namespaces, and the spec options that hand them to the runtime.

    Security             the options (docker's HostConfig security fields, parsed)
    validate(sec, ...)   docker's refusals at create (and runc's, for sysctls)
    spec_opts(sec, ...)  the runtime.spec options, in the order they apply:

    capabilities ─ namespaces (host / private / none; container:<x> paths are the
    namespace preparer's, namespaces.py) ─ privileged (host devices, every device in the
    cgroup, /sys rw, no masked or read-only paths) ─ cgroups rw ─ masked/read-only paths
    given ─ no_new_privs ─ seccomp (from the capabilities just set) ─ sysctls ─ group-add

A record written before a field existed reads back with its default, which always means
docker's default (``ipc_mode``/``cgroupns_mode`` "" fall back to the spec's old fields).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from berth.engine.containers import capabilities
from berth.engine.containers import seccomp as profiles
from berth.errors import InvalidArgument, RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import spec as runtime_spec
from berth.runtime.spec import SpecOpt
from berth.store.rootview import LayerTree

CONTAINER = "container:"
UNCONFINED = "unconfined"
BUILTIN = "builtin"
# Namespaced sysctls outside net.* and fs.mqueue.* (docker's CLI list, runc's check)
IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                         "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                         "kernel.shm_rmid_forced"})


@dataclass(frozen=True)
class Security:
    cap_add: tuple[str, ...] = ()  # as given (inspect shows them so)
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    security_opt: tuple[str, ...] = ()  # as given, for inspect's SecurityOpt
    no_new_privileges: bool = False
    seccomp: str = ""  # "" (the default), "builtin", "unconfined" or a profile's JSON
    apparmor: str = ""  # ignored, as docker ignores it, where the kernel has no AppArmor
    labels: tuple[str, ...] = ()  # label=...: ignored likewise without SELinux
    writable_cgroups: bool | None = None  # None: as privileged
    group_add: tuple[str, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    pid_mode: str = ""  # "" | host | container:<id>
    ipc_mode: str = ""  # "" (old record) | private | shareable | none | host | container:<id>
    uts_mode: str = ""  # "" | host
    cgroupns_mode: str = ""  # "" (old record) | private | host
    userns_mode: str = ""  # "" | host
    masked_paths: tuple[str, ...] | None = None  # None: docker's defaults
    readonly_paths: tuple[str, ...] | None = None

    @property
    def system_paths(self) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """The masked and read-only paths applied (as moby records them in HostConfig:
        the defaults unless given; none recorded for a privileged container)."""
        if self.privileged:
            return self.masked_paths, self.readonly_paths
        return (tuple(runtime_spec.MASKED_PATHS) if self.masked_paths is None
                else self.masked_paths,
                tuple(runtime_spec.READONLY_PATHS) if self.readonly_paths is None
                else self.readonly_paths)

    @property
    def capabilities(self) -> list[str]:
        """The capability set (InvalidArgument for a name docker does not know)."""
        return capabilities.resolve(self.cap_add, self.cap_drop, self.privileged)


def validate(sec: Security, hostname: str = "", network_mode: str = "") -> None:
    """Refuse what docker refuses at create; sysctls as runc refuses them at a start (so
    every runtime gives the same answer, before anything exists)."""
    capabilities.normalize(sec.cap_add, "CapAdd")
    capabilities.normalize(sec.cap_drop, "CapDrop")
    if not _valid_mode(sec.ipc_mode, ("", "private", "shareable", "none", "host"), True):
        raise InvalidArgument(f"invalid IPC mode: {sec.ipc_mode}")
    if not _valid_mode(sec.pid_mode, ("", "host"), False):
        raise InvalidArgument(f"invalid PID mode: {sec.pid_mode}")
    if sec.uts_mode not in ("", "host"):
        raise InvalidArgument(f"invalid UTS mode: {sec.uts_mode}")
    if sec.cgroupns_mode not in ("", "private", "host"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {sec.cgroupns_mode}")
    if sec.userns_mode not in ("", "host"):
        raise InvalidArgument(f"invalid USER mode: {sec.userns_mode}")  # "" or host only
    if sec.uts_mode == "host" and hostname:
        raise InvalidArgument("conflicting options: hostname and the UTS mode")
    if sec.apparmor not in ("", UNCONFINED) and _apparmor_enabled():
        # docker ignores a profile where the kernel has no AppArmor, and so does berth;
        # where it has, docker would confine the container and berth cannot: refused.
        raise InvalidArgument(f'apparmor profile "{sec.apparmor}" cannot be applied: '
                              "berth does not support AppArmor")
    if any(opt != "disable" for opt in sec.labels) and _selinux_enabled():
        raise InvalidArgument("SELinux labels cannot be applied: berth does not support "
                              "SELinux")
    if sec.seccomp not in ("", BUILTIN, UNCONFINED):
        profiles.convert(sec.seccomp, sec.capabilities)
    _check_sysctls(sec, network_mode)


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def _selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


def _valid_mode(mode: str, names: Sequence[str], empty_container: bool) -> bool:
    if mode in names:
        return True
    return mode.startswith(CONTAINER) and (empty_container or len(mode) > len(CONTAINER))


def _check_sysctls(sec: Security, network_mode: str) -> None:
    """runc's ``validateSysctl``: only what lives in a namespace the container has."""
    for key, _ in sec.sysctls:
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if sec.ipc_mode == "host":
                raise InvalidArgument(f'sysctl "{key}" is not allowed in the hosts ipc '
                                      "namespace")
        elif key.startswith("net."):
            if network_mode == "host":
                raise InvalidArgument(f'sysctl "{key}" not allowed in host network '
                                      "namespace")
        elif key == "kernel.domainname" and sec.uts_mode != "host":
            pass
        elif key == "kernel.hostname" and sec.uts_mode != "host":
            raise InvalidArgument('sysctl "kernel.hostname" is not allowed as it conflicts '
                                  'with the OCI "hostname" field')
        else:
            raise InvalidArgument(f'sysctl "{key}" is not in a separate kernel namespace')


def spec_opts(sec: Security, rootfs: LayerTree | None = None) -> list[SpecOpt]:
    """The options for ``sec`` (``rootfs``: where --group-add names are looked up)."""
    caps = sec.capabilities
    opts = [runtime_spec.with_capabilities(caps), with_namespace_modes(sec)]
    if sec.privileged:
        opts.append(with_privileged)
    if sec.privileged if sec.writable_cgroups is None else sec.writable_cgroups:
        opts.append(with_writable_cgroups)
    if sec.masked_paths is not None or sec.readonly_paths is not None:
        opts.append(with_system_paths(sec.masked_paths, sec.readonly_paths))
    if sec.no_new_privileges:
        opts.append(with_no_new_privileges)
    opts.append(with_seccomp_for(sec, caps))
    if sec.sysctls:
        opts.append(with_sysctls(sec.sysctls))
    if sec.group_add and rootfs is not None:
        opts.append(with_group_add(sec.group_add, rootfs))
    return opts


def with_default_seccomp(spec: oci.Spec) -> None:
    """Docker's default profile; RuntimeFailure if it cannot be loaded (the container does
    not start without the default the user did not turn off)."""
    runtime_spec.with_seccomp(profiles.default_profile(runtime_spec.DEFAULT_CAPABILITIES)
                              )(spec)


def with_seccomp_for(sec: Security, caps: Sequence[str]) -> SpecOpt:
    """moby's ``WithSeccomp``: none when unconfined, or privileged without a profile of its
    own; a custom profile converted for ``caps``; else the default for ``caps``."""
    def apply(spec: oci.Spec) -> None:
        spec["linux"].pop("seccomp", None)
        if sec.seccomp == UNCONFINED or (sec.privileged and sec.seccomp in ("", BUILTIN)):
            return
        if sec.seccomp in ("", BUILTIN):
            profile: oci.Seccomp | None = profiles.default_profile(caps)
        else:
            profile = profiles.convert(sec.seccomp, caps)
        if profile is not None:
            runtime_spec.with_seccomp(profile)(spec)
    return apply


def with_namespace_modes(sec: Security) -> SpecOpt:
    """host: the namespace left out (the host's is kept); ipc none: no /dev/shm; ipc host:
    the host's /dev/shm bound; uts host: no hostname of its own; cgroupns host: no cgroup
    namespace. ``container:<x>`` keeps a new namespace here: the namespace preparer puts
    x's path in at the start."""
    def apply(spec: oci.Spec) -> None:
        drop = {t for t, mode in (("pid", sec.pid_mode), ("ipc", sec.ipc_mode),
                                  ("uts", sec.uts_mode), ("cgroup", sec.cgroupns_mode))
                if mode == "host"}
        linux = spec["linux"]
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] not in drop]
        if "uts" in drop:
            spec.pop("hostname", None)
        if sec.ipc_mode in ("none", "host"):
            spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/dev/shm"]
        if sec.ipc_mode == "host":
            spec["mounts"].append({"destination": "/dev/shm", "type": "bind",
                                   "source": "/dev/shm", "options": ["rbind", "rprivate"]})
    return apply


def with_privileged(spec: oci.Spec) -> None:
    """moby's privileged: every host device, all of them allowed in the device cgroup,
    /sys read-write, no masked or read-only paths."""
    linux = spec["linux"]
    known = {d["path"] for d in linux.get("devices", [])}
    linux["devices"] = [*linux.get("devices", []),
                        *(d for d in host_devices() if d["path"] not in known)]
    linux.setdefault("resources", {})["devices"] = [{"allow": True, "access": "rwm"}]
    for m in spec["mounts"]:
        if m["destination"] == "/sys":
            m["options"] = [o for o in m.get("options", []) if o != "ro"]
    linux["maskedPaths"] = []
    linux["readonlyPaths"] = []


def with_writable_cgroups(spec: oci.Spec) -> None:
    for m in spec["mounts"]:
        if m.get("type") == "cgroup":
            m["options"] = [o for o in m.get("options", []) if o != "ro"]


def with_system_paths(masked: Sequence[str] | None, readonly: Sequence[str] | None
                      ) -> SpecOpt:
    """HostConfig's MaskedPaths/ReadonlyPaths (``systempaths=unconfined``: both empty)."""
    def apply(spec: oci.Spec) -> None:
        if masked is not None:
            spec["linux"]["maskedPaths"] = list(masked)
        if readonly is not None:
            spec["linux"]["readonlyPaths"] = list(readonly)
    return apply


def with_no_new_privileges(spec: oci.Spec) -> None:
    spec["process"]["noNewPrivileges"] = True


def with_sysctls(sysctls: Sequence[tuple[str, str]]) -> SpecOpt:
    """Merged over any set before (the create request's win, as in moby)."""
    def apply(spec: oci.Spec) -> None:
        spec["linux"].setdefault("sysctl", {}).update(dict(sysctls))
    return apply


def with_group_add(groups: Sequence[str], rootfs: LayerTree) -> SpecOpt:
    """Each group (a name or gid in the image's /etc/group, or a number) added to the
    process's supplementary groups, after the user's own (runc's GetAdditionalGroups)."""
    def apply(spec: oci.Spec) -> None:
        user = spec["process"]["user"]
        gids = list(user.get("additionalGids", []))
        for gid in additional_groups(groups, rootfs):
            if gid not in gids:
                gids.append(gid)
        user["additionalGids"] = gids
    return apply


def additional_groups(groups: Sequence[str], rootfs: LayerTree) -> list[int]:
    """runc's ``GetAdditionalGroups``: a name or gid of /etc/group, else a number in range;
    RuntimeFailure with runc's words for anything else."""
    try:
        with rootfs.open("/etc/group") as f:
            content = f.read().decode(errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        content = ""
    except OSError as err:
        raise RuntimeFailure(f"unable to read /etc/group: {err.strerror}") from err
    entries = [line.split(":") for line in content.splitlines()
               if line and not line.startswith("#")]
    out: list[int] = []
    for group in groups:
        found = [int(e[2]) for e in entries
                 if len(e) >= 3 and e[2].isdigit() and group in (e[0], e[2])]
        if not found:
            if not group.isdigit():
                raise RuntimeFailure(f"Unable to find group {group}: no matching entries "
                                     "in group file")
            if int(group) > 2**31 - 1:
                raise RuntimeFailure("uids and gids must be in range 0-2147483647")
            found = [int(group)]
        out += found
    return out


# containerd's HostDevices: directories and files of /dev that are never copied.
_SKIPPED_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})


def host_devices(root: str = "/dev") -> list[oci.Device]:
    """Every character and block device under ``root`` (containerd's ``HostDevices``:
    symlinks, fifos, /dev/console and the pts/shm/mqueue directories left out)."""
    out: list[oci.Device] = []
    try:
        entries = list(os.scandir(root))
    except OSError as err:
        raise RuntimeFailure(f"error gathering device information: {err}") from err
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _SKIPPED_DIRS:
                out += host_devices(entry.path)
            continue
        if entry.name == "console":
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            out.append({"path": entry.path, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                        "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                        "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid,
                        "gid": st.st_gid})
    return out
