"""Check a bundle's ``config.json`` before anything is started (runc's ``specconv`` and
``configs/validate``), so every invalid bundle fails with runc's words instead of a
``KeyError`` halfway through a fork.

Also holds the typed views of the runtime-spec fields ``oci.spec`` does not list yet
(hooks, id mappings, rootfs propagation, time offsets, memory policy, Intel RDT): the
runtime reads them through ``extensions(spec)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from berth.errors import InvalidArgument
from berth.oci import spec as oci


class Hook(TypedDict):
    path: str
    args: NotRequired[list[str]]
    env: NotRequired[list[str]]
    timeout: NotRequired[int]


class Hooks(TypedDict, total=False):
    prestart: list[Hook]
    createRuntime: list[Hook]
    createContainer: list[Hook]
    startContainer: list[Hook]
    poststart: list[Hook]
    poststop: list[Hook]


class IdMapping(TypedDict):
    containerID: int
    hostID: int
    size: int


class TimeOffset(TypedDict, total=False):
    secs: int
    nanosecs: int


class MemoryPolicy(TypedDict, total=False):
    mode: str
    nodes: str
    flags: list[str]


class IntelRdt(TypedDict, total=False):
    closID: str
    l3CacheSchema: str
    memBwSchema: str


class LinuxExtensions(TypedDict, total=False):
    uidMappings: list[IdMapping]
    gidMappings: list[IdMapping]
    rootfsPropagation: str
    timeOffsets: dict[str, TimeOffset]
    memoryPolicy: MemoryPolicy
    intelRdt: IntelRdt


def hooks_of(spec: oci.Spec) -> Hooks:
    return cast(Hooks, cast(dict[str, Any], spec).get("hooks") or {})


def linux_of(spec: oci.Spec) -> LinuxExtensions:
    return cast(LinuxExtensions, spec.get("linux") or {})


# runc's namespace names; "time" only where the kernel has time namespaces.
NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer",
              "poststart", "poststop")
PROPAGATIONS = ("private", "rprivate", "slave", "rslave", "shared", "rshared",
                "unbindable", "runbindable")
DEVICE_TYPES = ("c", "u", "b", "p")
# runc's validSysctlMap: the IPC namespace's own sysctls (fs.mqueue.* as well).
IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                         "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                         "kernel.shm_rmid_forced"})
RLIMITS = frozenset({"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE",
                     "RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
                     "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
                     "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"})
MEMPOLICY_MODES = ("MPOL_DEFAULT", "MPOL_PREFERRED", "MPOL_BIND", "MPOL_INTERLEAVE",
                   "MPOL_LOCAL", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE")
MEMPOLICY_FLAGS = ("MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES")
RESCTRL = Path("/sys/fs/resctrl")


# (JSON path, Python types, Go struct field as runc's decoder names it, Go type): a value
# of another JSON type fails as runc's json.Unmarshal does, before anything looks at it.
_FIELDS: list[tuple[tuple[str, ...], tuple[type, ...], str, str]] = [
    (("process",), (dict,), "Spec.process", "specs.Process"),
    (("process", "args"), (list,), "Process.process.args", "[]string"),
    (("process", "env"), (list,), "Process.process.env", "[]string"),
    (("process", "cwd"), (str,), "Process.process.cwd", "string"),
    (("process", "terminal"), (bool,), "Process.process.terminal", "bool"),
    (("process", "user"), (dict,), "Process.process.user", "specs.User"),
    (("process", "user", "uid"), (int,), "User.process.user.uid", "uint32"),
    (("process", "user", "gid"), (int,), "User.process.user.gid", "uint32"),
    (("process", "user", "umask"), (int,), "User.process.user.umask", "uint32"),
    (("process", "user", "additionalGids"), (list,), "User.process.user.additionalGids",
     "[]uint32"),
    (("process", "capabilities"), (dict,), "Process.process.capabilities",
     "specs.LinuxCapabilities"),
    (("process", "rlimits"), (list,), "Process.process.rlimits", "[]specs.POSIXRlimit"),
    (("process", "noNewPrivileges"), (bool,), "Process.process.noNewPrivileges", "bool"),
    (("process", "oomScoreAdj"), (int,), "Process.process.oomScoreAdj", "int"),
    (("root",), (dict,), "Spec.root", "specs.Root"),
    (("root", "path"), (str,), "Root.root.path", "string"),
    (("root", "readonly"), (bool,), "Root.root.readonly", "bool"),
    (("hostname",), (str,), "Spec.hostname", "string"),
    (("mounts",), (list,), "Spec.mounts", "[]specs.Mount"),
    (("hooks",), (dict,), "Spec.hooks", "specs.Hooks"),
    (("annotations",), (dict,), "Spec.annotations", "map[string]string"),
    (("linux",), (dict,), "Spec.linux", "specs.Linux"),
    (("linux", "namespaces"), (list,), "Linux.linux.namespaces", "[]specs.LinuxNamespace"),
    (("linux", "uidMappings"), (list,), "Linux.linux.uidMappings", "[]specs.LinuxIDMapping"),
    (("linux", "gidMappings"), (list,), "Linux.linux.gidMappings", "[]specs.LinuxIDMapping"),
    (("linux", "devices"), (list,), "Linux.linux.devices", "[]specs.LinuxDevice"),
    (("linux", "sysctl"), (dict,), "Linux.linux.sysctl", "map[string]string"),
    (("linux", "cgroupsPath"), (str,), "Linux.linux.cgroupsPath", "string"),
    (("linux", "maskedPaths"), (list,), "Linux.linux.maskedPaths", "[]string"),
    (("linux", "readonlyPaths"), (list,), "Linux.linux.readonlyPaths", "[]string"),
    (("linux", "resources"), (dict,), "Linux.linux.resources", "specs.LinuxResources"),
    (("linux", "resources", "devices"), (list,), "LinuxResources.linux.resources.devices",
     "[]specs.LinuxDeviceCgroup"),
    (("linux", "resources", "memory"), (dict,), "LinuxResources.linux.resources.memory",
     "specs.LinuxMemory"),
    *((("linux", "resources", "memory", key), (int,),
       f"LinuxMemory.linux.resources.memory.{key}", "int64")
      for key in ("limit", "reservation", "swap", "kernel", "kernelTCP")),
    (("linux", "resources", "pids"), (dict,), "LinuxResources.linux.resources.pids",
     "specs.LinuxPids"),
    (("linux", "resources", "pids", "limit"), (int,), "LinuxPids.linux.resources.pids.limit",
     "int64"),
    (("linux", "resources", "cpu"), (dict,), "LinuxResources.linux.resources.cpu",
     "specs.LinuxCPU"),
    *((("linux", "resources", "cpu", key), (int,), f"LinuxCPU.linux.resources.cpu.{key}",
       kind) for key, kind in (("shares", "uint64"), ("quota", "int64"),
                               ("period", "uint64"))),
    (("linux", "resources", "cpu", "cpus"), (str,), "LinuxCPU.linux.resources.cpu.cpus",
     "string"),
    (("linux", "resources", "cpu", "mems"), (str,), "LinuxCPU.linux.resources.cpu.mems",
     "string"),
]
_JSON_TYPES = ((bool, "bool"), (int, "number"), (float, "number"), (str, "string"),
               (list, "array"), (dict, "object"))


def _check_types(spec: dict[str, Any]) -> None:
    for path, types, field, go_type in _FIELDS:
        value: Any = spec
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            continue
        wrong_bool = isinstance(value, bool) and bool not in types
        if wrong_bool or not isinstance(value, types):
            raise InvalidArgument(f"json: cannot unmarshal {_json_kind(value)} into Go "
                                  f"struct field "
                                  f"{field} of type {go_type}")
    for i, item in enumerate(spec.get("mounts") or []):
        if not isinstance(item, dict):
            raise InvalidArgument(f"malformed spec file: mounts[{i}] is not an object "
                                  "(specs.Mount)")
    linux = spec.get("linux") or {}
    for name in ("namespaces", "devices", "uidMappings", "gidMappings"):
        for i, item in enumerate(linux.get(name) or []):
            if not isinstance(item, dict):
                raise InvalidArgument(f"malformed spec file: linux.{name}[{i}] is not an "
                                      "object")
    for name in ("args", "env"):
        for item in (spec.get("process") or {}).get(name) or []:
            if not isinstance(item, str):
                raise InvalidArgument(f"json: cannot unmarshal {_json_kind(item)} into "
                                      f"Go struct field Process.process.{name} of type "
                                      "string")


def _json_kind(value: object) -> str:
    return next((name for t, name in _JSON_TYPES if isinstance(value, t)), "null")


def validate(spec: oci.Spec, bundle: Path) -> None:
    """Raise ``InvalidArgument`` with runc's message for the first problem found."""
    if not isinstance(spec, dict):
        raise InvalidArgument("malformed spec file: not a JSON object")
    _check_types(cast(dict[str, Any], spec))
    try:
        _validate(spec, bundle)
    except (TypeError, AttributeError, KeyError, ValueError) as err:
        # A shape the checks above did not foresee: still a message, never a traceback.
        raise InvalidArgument(f"malformed spec file: {type(err).__name__}: {err}") from None


def _validate(spec: oci.Spec, bundle: Path) -> None:
    if not spec.get("root"):
        raise InvalidArgument("root must be specified")
    _check_root(spec, bundle)
    if not spec.get("process"):
        raise InvalidArgument("process property must not be empty")
    _check_process(spec["process"])
    if not isinstance(spec.get("linux"), dict):
        raise InvalidArgument("linux section must be specified (this runtime only runs "
                              "Linux containers)")
    types = _check_namespaces(spec["linux"].get("namespaces") or [])
    if spec.get("hostname") and "uts" not in types:
        raise InvalidArgument("unable to set hostname without a private UTS namespace")
    _check_mounts(spec.get("mounts") or [])
    _check_user_namespace(spec)
    _check_sysctl(spec["linux"].get("sysctl") or {}, spec["linux"].get("namespaces") or [])
    _check_devices(spec["linux"].get("devices") or [])
    _check_linux_extensions(linux_of(spec), types)
    _check_resources(cast(dict[str, Any], spec["linux"].get("resources") or {}))
    _check_hooks(hooks_of(spec))


# What the cgroup managers apply (cgroups/v1.py, v2.py); anything else set is refused
# rather than silently left out.
APPLIED_RESOURCES = frozenset({"memory", "cpu", "pids", "blockIO", "devices"})


def _check_resources(resources: dict[str, Any]) -> None:
    for key, value in resources.items():
        if key not in APPLIED_RESOURCES and value not in (None, [], {}):
            raise InvalidArgument(f"linux.resources.{key} is set, but this runtime cannot "
                                  "apply it")


def _check_root(spec: oci.Spec, bundle: Path) -> None:
    path = spec["root"].get("path")
    if not path:
        raise InvalidArgument("root.path must be specified")
    full = bundle / path
    try:
        st = os.stat(full)
    except OSError as err:
        raise InvalidArgument(f"invalid rootfs: stat {full}: "
                              f"{os.strerror(err.errno or 0).lower()}") from None
    if not os.path.isdir(full) or not st:
        raise InvalidArgument(f"invalid rootfs: {full}: not a directory")


def _check_process(proc: oci.Process) -> None:
    if not proc.get("args"):
        raise InvalidArgument("args must not be empty")
    cwd = proc.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise InvalidArgument("Cwd must be an absolute path")
    user = proc.get("user") or {}
    for key in ("uid", "gid"):
        if not isinstance(user.get(key, 0), int):
            raise InvalidArgument(f"process.user.{key} must be an integer")
    for rlimit in proc.get("rlimits") or []:
        if rlimit.get("type") not in RLIMITS:
            raise InvalidArgument(f"wrong rlimit value: {rlimit.get('type')}")
    for entry in proc.get("env") or []:
        if not isinstance(entry, str):
            raise InvalidArgument(f"process.env: {entry!r} is not a string")


def _ns_repr(ns: oci.Namespace) -> str:
    # runc prints the Go struct: {"type" "path"}
    return f'{{"{ns.get("type", "")}" "{ns.get("path", "")}"}}'


def _check_namespaces(namespaces: list[oci.Namespace]) -> set[str]:
    seen: set[str] = set()
    for ns in namespaces:
        kind = ns.get("type", "")
        if kind not in NAMESPACE_TYPES or (kind == "time" and not time_namespaces()):
            raise InvalidArgument(f"namespace {_ns_repr(ns)} does not exist")
        if kind in seen:
            raise InvalidArgument(f"malformed spec file: duplicated ns {_ns_repr(ns)}")
        seen.add(kind)
        path = ns.get("path")
        if path is not None:
            try:
                os.lstat(path)
            except OSError as err:
                raise InvalidArgument(f"namespace path: lstat {path}: "
                                      f"{os.strerror(err.errno or 0).lower()}") from None
    if not any(ns.get("type") == "mount" and "path" not in ns for ns in namespaces):
        # Without its own mount namespace pivot_root would pivot the caller's.
        raise InvalidArgument("the spec must create a new mount namespace")
    return seen


def time_namespaces() -> bool:
    return os.path.exists("/proc/self/ns/time")


def _check_mounts(mounts: list[oci.Mount]) -> None:
    for i, m in enumerate(mounts):
        if not isinstance(m, dict) or not m.get("destination"):
            raise InvalidArgument(f"invalid mount #{i}: mount destination must be set")
        for opt in m.get("options") or []:
            if not isinstance(opt, str):
                raise InvalidArgument(f"invalid mount {m['destination']}: option {opt!r} "
                                      "is not a string")


def _check_user_namespace(spec: oci.Spec) -> None:
    linux = linux_of(spec)
    user_ns = next((ns for ns in spec["linux"]["namespaces"] if ns["type"] == "user"), None)
    if user_ns is None or "path" in user_ns:
        return
    if not linux.get("uidMappings"):
        raise InvalidArgument("User namespaces enabled, but no uid mappings found.")
    if not linux.get("gidMappings"):
        raise InvalidArgument("User namespaces enabled, but no gid mappings found.")
    for kind in ("uidMappings", "gidMappings"):
        for m in cast(list[IdMapping], linux.get(kind, [])):
            if not all(isinstance(m.get(k), int) for k in ("containerID", "hostID", "size")):
                raise InvalidArgument(f"linux.{kind}: containerID, hostID and size must be "
                                      "integers")


def _check_sysctl(sysctl: dict[str, str], namespaces: list[oci.Namespace]) -> None:
    """runc's ``sysctl`` validator: only namespaced sysctls, each in a namespace of its
    own (``net.*`` in a network namespace that is not the caller's)."""
    own = {ns["type"]: ns for ns in namespaces}
    for key in sysctl:
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if "ipc" in own:
                continue
            raise InvalidArgument(f'sysctl "{key}" is not allowed in the hosts ipc namespace')
        if key.startswith("net."):
            if "network" not in own or _is_current_netns(own["network"].get("path")):
                raise InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
            continue
        if "uts" in own:
            if key == "kernel.domainname":
                continue
            if key == "kernel.hostname":
                raise InvalidArgument(f'sysctl "{key}" is not allowed as it conflicts with '
                                      'the OCI "hostname" field')
        raise InvalidArgument(f'sysctl "{key}" is not in a separate kernel namespace')


def _is_current_netns(path: str | None) -> bool:
    if path is None:
        return False
    try:
        here = os.stat("/proc/self/ns/net")
        there = os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _check_devices(devices: list[oci.Device]) -> None:
    for dev in devices:
        if dev.get("type") not in DEVICE_TYPES:
            raise InvalidArgument(f'invalid device type "{dev.get("type", "")}"')
        path = dev.get("path", "")
        if not path.startswith("/dev/") or ".." in path.split("/"):
            raise InvalidArgument(f"invalid device path {path!r}: must be below /dev")


def _check_linux_extensions(linux: LinuxExtensions, types: set[str]) -> None:
    propagation = linux.get("rootfsPropagation")
    if propagation and propagation not in PROPAGATIONS:
        raise InvalidArgument(f"rootfsPropagation={propagation} is not supported")
    if linux.get("timeOffsets") and "time" not in types:
        raise InvalidArgument("time offsets are specified without a new time namespace")
    for clock in linux.get("timeOffsets") or {}:
        if clock not in ("monotonic", "boottime"):
            raise InvalidArgument(f"time offsets: unknown clock {clock!r}")
    policy = linux.get("memoryPolicy")
    if policy is not None:
        if policy.get("mode") not in MEMPOLICY_MODES:
            raise InvalidArgument(f"invalid memory policy mode {policy.get('mode')!r}")
        for flag in policy.get("flags") or []:
            if flag not in MEMPOLICY_FLAGS:
                raise InvalidArgument(f"invalid memory policy flag {flag!r}")
    rdt = linux.get("intelRdt")
    if rdt is not None:
        _check_intel_rdt(rdt)


def _check_intel_rdt(rdt: IntelRdt) -> None:
    """Without a mounted resctrl the schemas fail with runc 1.1's words; a bare closID
    too (runc 1.1 ignores it, which would leave a requested limit silently unapplied)."""
    enabled = (RESCTRL / "schemata").exists()
    if rdt.get("l3CacheSchema") and not enabled:
        raise InvalidArgument("intelRdt.l3CacheSchema is specified in config, but Intel "
                              "RDT/CAT is not enabled")
    if rdt.get("memBwSchema") and not enabled:
        raise InvalidArgument("intelRdt.memBwSchema is specified in config, but Intel "
                              "RDT/MBA is not enabled")
    if not enabled:
        raise InvalidArgument("intelRdt is specified in config, but Intel RDT is not "
                              "supported or enabled")
    # TODO(#13): resctrl groups (mkdir, schemata, tasks); refused rather than ignored.
    raise InvalidArgument("intelRdt is specified in config, but this runtime does not "
                          "apply Intel RDT settings yet")


def _check_hooks(hooks: Hooks) -> None:
    if not isinstance(hooks, dict):
        raise InvalidArgument("hooks must be an object")
    for kind in hooks:
        if kind not in HOOK_KINDS:
            raise InvalidArgument(f"unknown hook type {kind!r}")
