"""Build the OCI runtime spec (``config.json``) for a container.

The engine resolves everything image- and user-specific (argv, env, uid/gid, limits) and
hands a ``SpecOptions``; this module adds Docker's defaults: namespaces, the standard
mounts, default devices and their cgroup rules, capabilities, masked and read-only paths,
and the default seccomp profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from berth.oci import spec as oci
from berth.oci.mount import Mount

DEFAULT_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# (path, major, minor): the character devices every container gets (docker's defaults).
DEFAULT_DEVICES = [
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
]
# Devices cgroup: deny all, then allow the defaults, the pty multiplexer and pty slaves.
_EXTRA_ALLOWED: list[tuple[int, int | None]] = [(5, 2), (136, None), (10, 200)]


@dataclass(frozen=True)
class SpecOptions:
    rootfs: Path
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    hostname: str = ""
    terminal: bool = False
    console_size: tuple[int, int] = (0, 0)  # (height, width) of the terminal, if known
    cgroups_path: str = ""
    memory: int = 0  # bytes, 0 = unlimited
    memory_swap: int = 0  # bytes of memory+swap; -1 unlimited; 0 = docker's default (2x)
    memory_reservation: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0  # microseconds per period
    cpu_period: int = 0
    pids_limit: int = 0  # 0 or negative = unlimited
    readonly_rootfs: bool = False
    bind_files: tuple[tuple[str, str], ...] = ()  # (host file, container path): hosts etc.
    extra_mounts: tuple[Mount, ...] = ()  # each at its ``target``, after the standard ones
    seccomp: oci.Seccomp | None = None
    capabilities: tuple[str, ...] = tuple(DEFAULT_CAPABILITIES)
    annotations: dict[str, str] = field(default_factory=dict)


def _mounts(opts: SpecOptions) -> list[oci.Mount]:
    mounts: list[oci.Mount] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    ]
    for source, destination in opts.bind_files:
        mounts.append({"destination": destination, "type": "bind", "source": source,
                       "options": ["rbind", "rprivate"]})
    for m in opts.extra_mounts:
        mounts.append({"destination": m.target, "type": m.type, "source": m.source,
                       "options": list(m.options)})
    return mounts


def _resources(opts: SpecOptions) -> oci.Resources:
    devices: list[oci.DeviceCgroup] = [{"allow": False, "access": "rwm"}]
    devices += [{"allow": True, "type": "c", "major": ma, "minor": mi, "access": "rwm"}
                for _, ma, mi in DEFAULT_DEVICES]
    for major, minor in _EXTRA_ALLOWED:
        rule: oci.DeviceCgroup = {"allow": True, "type": "c", "major": major, "access": "rwm"}
        if minor is not None:  # an absent minor is the wildcard
            rule["minor"] = minor
        devices.append(rule)
    res: oci.Resources = {"devices": devices}
    if opts.memory or opts.memory_reservation:
        mem: oci.MemoryResources = {}
        if opts.memory:
            mem["limit"] = opts.memory
            # docker: with no --memory-swap, swap allowance equals the memory limit.
            mem["swap"] = opts.memory_swap or opts.memory * 2
        if opts.memory_reservation:
            mem["reservation"] = opts.memory_reservation
        res["memory"] = mem
    cpu: oci.CpuResources = {}
    if opts.cpu_shares:
        cpu["shares"] = opts.cpu_shares
    if opts.cpu_quota:
        cpu["quota"] = opts.cpu_quota
        cpu["period"] = opts.cpu_period or 100_000
    if cpu:
        res["cpu"] = cpu
    if opts.pids_limit > 0:
        res["pids"] = {"limit": opts.pids_limit}
    return res


def build(opts: SpecOptions) -> oci.Spec:
    caps = list(opts.capabilities)
    process: oci.Process = {
        "terminal": opts.terminal,
        "user": {"uid": opts.uid, "gid": opts.gid, "additionalGids": list(opts.additional_gids)},
        "args": list(opts.args),
        "env": list(opts.env),
        "cwd": opts.cwd or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": False,
    }
    if opts.terminal and all(opts.console_size):
        process["consoleSize"] = {"height": opts.console_size[0],
                                  "width": opts.console_size[1]}
    linux: oci.Linux = {
        "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network", "cgroup")],
        "resources": _resources(opts),
        "devices": [{"path": p, "type": "c", "major": ma, "minor": mi, "fileMode": 0o666,
                     "uid": 0, "gid": 0} for p, ma, mi in DEFAULT_DEVICES],
        "maskedPaths": list(MASKED_PATHS),
        "readonlyPaths": list(READONLY_PATHS),
    }
    if opts.cgroups_path:
        linux["cgroupsPath"] = opts.cgroups_path
    if opts.seccomp is not None:
        linux["seccomp"] = opts.seccomp
    spec: oci.Spec = {
        "ociVersion": oci.OCI_VERSION,
        "process": process,
        "root": {"path": str(opts.rootfs), "readonly": opts.readonly_rootfs},
        "mounts": _mounts(opts),
        "linux": linux,
    }
    if opts.hostname:
        spec["hostname"] = opts.hostname
    if opts.annotations:
        spec["annotations"] = dict(opts.annotations)
    return spec
