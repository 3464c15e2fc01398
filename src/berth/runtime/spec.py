"""Build the OCI runtime spec (``config.json``) from composable options.

A spec option is one function over the spec (containerd's ``SpecOpt``): it sets or adds
one concern and leaves the rest alone. ``generate`` starts from a skeleton, applies
Docker's defaults, then the caller's options in order::

    skeleton ──▶ DEFAULTS: namespaces, standard mounts, default devices (and their
       │                   cgroup rules), capabilities, masked and read-only paths
       ▼
    caller's options, in order: args, env, cwd, user, hostname, terminal, /etc binds,
                                extra mounts, cgroup path, memory/cpu/pids, seccomp, ...

Order matters where options touch the same list: mounts are appended (standard mounts,
then binds, then extra mounts), and an option that wraps ``process.args`` (``--init``)
must come after the one that sets them. The options here are generic; the composition
for one container (what the image and the create request say) is the engine's
(``engine/containers/specopts.py``).
"""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from berth.errors import RuntimeFailure
from berth.oci import spec as oci
from berth.oci.mount import Mount

SpecOpt = Callable[[oci.Spec], None]

# Docker's default capability set (moby oci/caps/defaults.go): the one list of it.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
DEFAULT_NAMESPACES = ("pid", "ipc", "uts", "mount", "network", "cgroup")

MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
    "/proc/interrupts",  # docker 28 too (GHSA-6fw5-f8r9-fgfm)
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# (path, major, minor): the character devices every container gets (docker's defaults).
DEFAULT_DEVICES = [
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
]
# Devices cgroup: deny all, then allow the defaults, the pty multiplexer and pty slaves.
_EXTRA_ALLOWED: list[tuple[int, int | None]] = [(5, 2), (136, None), (10, 200)]

_STANDARD_MOUNTS: list[oci.Mount] = [
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["ro", "nosuid", "noexec", "nodev"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
]


def skeleton(rootfs: Path) -> oci.Spec:
    """The spec before any option: root at ``rootfs``, root user, no args, nothing else."""
    return {
        "ociVersion": oci.OCI_VERSION,
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0, "additionalGids": []},
                    "args": [], "env": [], "cwd": "/", "noNewPrivileges": False},
        "root": {"path": str(rootfs), "readonly": False},
        "mounts": [],
        "linux": {"namespaces": [], "resources": {}},
    }


def generate(rootfs: Path, opts: Iterable[SpecOpt]) -> oci.Spec:
    """Docker's default spec for the root at ``rootfs``, then each of ``opts`` in order."""
    spec = skeleton(rootfs)
    for opt in (*DEFAULTS, *opts):
        opt(spec)
    return spec


# ── Docker's defaults ────────────────────────────────────────────────────────────────


def with_namespaces(types: Sequence[str]) -> SpecOpt:
    """New namespaces of these types (no ``path``: none is joined)."""
    def apply(spec: oci.Spec) -> None:
        spec["linux"]["namespaces"] = [{"type": t} for t in types]
    return apply


def with_standard_mounts(spec: oci.Spec) -> None:
    """/proc, /dev, /dev/pts, /sys, /dev/mqueue and /dev/shm, as docker mounts them."""
    spec["mounts"] += copy.deepcopy(_STANDARD_MOUNTS)


def with_default_devices(spec: oci.Spec) -> None:
    """Docker's default devices, and a device cgroup that denies all but them, the pty
    multiplexer, pty slaves and /dev/net/tun."""
    spec["linux"]["devices"] = [
        {"path": p, "type": "c", "major": ma, "minor": mi, "fileMode": 0o666, "uid": 0,
         "gid": 0} for p, ma, mi in DEFAULT_DEVICES]
    rules: list[oci.DeviceCgroup] = [{"allow": False, "access": "rwm"}]
    rules += [{"allow": True, "type": "c", "major": ma, "minor": mi, "access": "rwm"}
              for _, ma, mi in DEFAULT_DEVICES]
    for major, minor in _EXTRA_ALLOWED:
        rule: oci.DeviceCgroup = {"allow": True, "type": "c", "major": major, "access": "rwm"}
        if minor is not None:  # an absent minor is the wildcard (crun rejects -1)
            rule["minor"] = minor
        rules.append(rule)
    _resources(spec)["devices"] = rules


def with_capabilities(caps: Sequence[str]) -> SpecOpt:
    """The bounding, effective and permitted sets (docker leaves inheritable and ambient
    empty)."""
    def apply(spec: oci.Spec) -> None:
        spec["process"]["capabilities"] = {
            "bounding": list(caps), "effective": list(caps), "permitted": list(caps)}
    return apply


def with_masked_paths(masked: Sequence[str], readonly: Sequence[str]) -> SpecOpt:
    def apply(spec: oci.Spec) -> None:
        spec["linux"]["maskedPaths"] = list(masked)
        spec["linux"]["readonlyPaths"] = list(readonly)
    return apply


DEFAULTS: tuple[SpecOpt, ...] = (
    with_namespaces(DEFAULT_NAMESPACES),
    with_standard_mounts,
    with_default_devices,
    with_capabilities(DEFAULT_CAPABILITIES),
    with_masked_paths(MASKED_PATHS, READONLY_PATHS),
)


# ── the process ──────────────────────────────────────────────────────────────────────


def with_args(args: Sequence[str]) -> SpecOpt:
    def apply(spec: oci.Spec) -> None:
        spec["process"]["args"] = list(args)
    return apply


def with_env(env: Sequence[str]) -> SpecOpt:
    """The process's environment, exactly (each ``NAME=value``)."""
    def apply(spec: oci.Spec) -> None:
        spec["process"]["env"] = list(env)
    return apply


def with_cwd(cwd: str) -> SpecOpt:
    def apply(spec: oci.Spec) -> None:
        spec["process"]["cwd"] = cwd or "/"
    return apply


def with_user(uid: int, gid: int, additional_gids: Sequence[int] = ()) -> SpecOpt:
    """Numeric ids, resolved by the caller (the runtime looks nothing up)."""
    def apply(spec: oci.Spec) -> None:
        spec["process"]["user"] = {"uid": uid, "gid": gid,
                                   "additionalGids": list(additional_gids)}
    return apply


def with_terminal(console_size: tuple[int, int] = (0, 0)) -> SpecOpt:
    """A terminal for the process; its first size (height, width) when both are known."""
    def apply(spec: oci.Spec) -> None:
        spec["process"]["terminal"] = True
        if all(console_size):
            spec["process"]["consoleSize"] = {"height": console_size[0],
                                              "width": console_size[1]}
    return apply


def with_seccomp(profile: oci.Seccomp) -> SpecOpt:
    def apply(spec: oci.Spec) -> None:
        spec["linux"]["seccomp"] = profile
    return apply


# ── the filesystem ───────────────────────────────────────────────────────────────────


def with_readonly_rootfs(spec: oci.Spec) -> None:
    spec["root"]["readonly"] = True


def with_hostname(hostname: str) -> SpecOpt:
    def apply(spec: oci.Spec) -> None:
        spec["hostname"] = hostname
    return apply


def with_bind_files(binds: Sequence[tuple[str, str]]) -> SpecOpt:
    """Bind (host file, container path) pairs, such as /etc/hosts, after the mounts so far."""
    def apply(spec: oci.Spec) -> None:
        spec["mounts"] += [{"destination": destination, "type": "bind", "source": source,
                            "options": ["rbind", "rprivate"]} for source, destination in binds]
    return apply


def with_mounts(mounts: Sequence[Mount]) -> SpecOpt:
    """Each mount at its ``target``, after the mounts so far."""
    def apply(spec: oci.Spec) -> None:
        spec["mounts"] += [{"destination": m.target, "type": m.type, "source": m.source,
                            "options": list(m.options)} for m in mounts]
    return apply


# ── the cgroup ───────────────────────────────────────────────────────────────────────


def with_cgroups_path(path: str) -> SpecOpt:
    def apply(spec: oci.Spec) -> None:
        spec["linux"]["cgroupsPath"] = path
    return apply


def with_memory(limit: int = 0, swap: int = 0, reservation: int = 0,
                swappiness: int | None = None, disable_oom_killer: bool = False) -> SpecOpt:
    """Bytes; 0 leaves each unset. ``swap`` is memory+swap (-1 unlimited); with a limit
    and no swap, docker allows as much swap as memory (twice the limit). ``swappiness``
    None leaves the kernel's; the OOM killer is only switched off when asked."""
    def apply(spec: oci.Spec) -> None:
        mem: oci.MemoryResources = {}
        if limit:
            mem["limit"] = limit
            mem["swap"] = swap or limit * 2
        if reservation:
            mem["reservation"] = reservation
        if swappiness is not None and swappiness >= 0:
            mem["swappiness"] = swappiness
        if disable_oom_killer:
            mem["disableOOMKiller"] = True
        if mem:
            _resources(spec)["memory"] = mem
    return apply


def with_cpu(shares: int = 0, quota: int = 0, period: int = 0, cpus: str = "",
             mems: str = "") -> SpecOpt:
    """CFS shares and quota (microseconds per ``period``, 100 ms unless given) and the
    cpuset; 0 or "" leaves each unset."""
    def apply(spec: oci.Spec) -> None:
        cpu: oci.CpuResources = {}
        if shares:
            cpu["shares"] = shares
        if quota:
            cpu["quota"] = quota
            cpu["period"] = period or 100_000
        elif period:
            cpu["period"] = period
        if cpus:
            cpu["cpus"] = cpus
        if mems:
            cpu["mems"] = mems
        if cpu:
            _resources(spec)["cpu"] = cpu
    return apply


def with_pids_limit(limit: int) -> SpecOpt:
    """At most ``limit`` tasks; 0 or negative is unlimited (docker's -1)."""
    def apply(spec: oci.Spec) -> None:
        if limit > 0:
            _resources(spec)["pids"] = {"limit": limit}
    return apply


def with_block_io(block_io: oci.BlockIO) -> SpecOpt:
    """Block I/O weight and per-device weights and throttles (devices by major:minor)."""
    def apply(spec: oci.Spec) -> None:
        if block_io:
            _resources(spec)["blockIO"] = copy.deepcopy(block_io)
    return apply


def with_devices(devices: Sequence[oci.Device], rules: Sequence[oci.DeviceCgroup]) -> SpecOpt:
    """Device nodes made in the container's /dev and device cgroup rules, after the
    defaults (a later rule wins in the kernel's list)."""
    def apply(spec: oci.Spec) -> None:
        if devices:
            known = spec["linux"].setdefault("devices", [])
            paths = {d["path"] for d in devices}
            known[:] = [d for d in known if d["path"] not in paths] + list(devices)
        if rules:
            _resources(spec).setdefault("devices", []).extend(rules)
    return apply


def device_numbers(path: str) -> tuple[int, int]:
    """The major and minor numbers of the device at ``path`` (OSError if none)."""
    st = os.stat(path)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def devices_from_path(host_path: str, container_path: str, permissions: str
                      ) -> tuple[list[oci.Device], list[oci.DeviceCgroup]]:
    """moby's DevicesFromPath: the device at ``host_path`` (a symlink followed), or every
    device below it if it is a directory, at ``container_path`` with its host mode and
    owner, and an allow rule of ``permissions`` for each. RuntimeFailure in docker's
    words when there is none."""
    resolved = os.path.realpath(host_path) if os.path.islink(host_path) else host_path
    try:
        return _device(resolved, container_path, permissions)
    except OSError as err:
        reason = os.strerror(err.errno or 0).lower() if err.errno else str(err)
    devices: list[oci.Device] = []
    rules: list[oci.DeviceCgroup] = []
    if reason == "not a device node" and os.path.isdir(resolved):
        for dirpath, _dirs, files in os.walk(resolved):
            for name in files:
                child = os.path.join(dirpath, name)
                try:
                    found, allowed = _device(
                        child, child.replace(resolved, container_path, 1), permissions)
                except OSError:
                    continue
                devices += found
                rules += allowed
    if not devices:
        raise RuntimeFailure("error gathering device information while adding custom "
                             f'device "{host_path}": {reason}')
    return devices, rules


def _device(path: str, container_path: str, permissions: str
            ) -> tuple[list[oci.Device], list[oci.DeviceCgroup]]:
    st = os.lstat(path)
    if stat.S_ISBLK(st.st_mode):
        kind = "b"
    elif stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISFIFO(st.st_mode):
        kind = "p"
    else:
        raise OSError("not a device node")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    device: oci.Device = {"path": container_path, "type": kind, "major": major,
                          "minor": minor, "fileMode": stat.S_IMODE(st.st_mode),
                          "uid": st.st_uid, "gid": st.st_gid}
    rule: oci.DeviceCgroup = {"allow": True, "type": kind, "major": major, "minor": minor,
                              "access": permissions}
    return [device], [rule]


# ── the process's limits ─────────────────────────────────────────────────────────────


def with_rlimits(rlimits: Sequence[tuple[str, int, int]]) -> SpecOpt:
    """``(name, soft, hard)`` with docker's names (``nofile``); -1 is unlimited."""
    def apply(spec: oci.Spec) -> None:
        if rlimits:
            spec["process"]["rlimits"] = [
                {"type": f"RLIMIT_{name.upper()}", "soft": _rlim(soft), "hard": _rlim(hard)}
                for name, soft, hard in rlimits]
    return apply


def _rlim(value: int) -> int:
    """-1 (unlimited) as the kernel's RLIM_INFINITY, as Go's uint64 conversion makes it."""
    return value if value >= 0 else (1 << 64) - 1


def with_oom_score_adj(score: int) -> SpecOpt:
    """The process's oom_score_adj; 0 leaves the one it inherits (docker's)."""
    def apply(spec: oci.Spec) -> None:
        if score:
            spec["process"]["oomScoreAdj"] = score
    return apply


def with_shm_size(size: int) -> SpecOpt:
    """The /dev/shm tmpfs's size in bytes; 0 keeps the default 64 MiB."""
    def apply(spec: oci.Spec) -> None:
        if not size:
            return
        for mount in spec["mounts"]:
            if mount["destination"] == "/dev/shm" and mount.get("type") == "tmpfs":
                options = [o for o in mount.get("options", []) if not o.startswith("size=")]
                mount["options"] = [*options, f"size={size}"]
    return apply


def _resources(spec: oci.Spec) -> oci.Resources:
    return spec["linux"].setdefault("resources", {})
