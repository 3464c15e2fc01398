"""Seccomp profiles in docker's JSON format, made into the OCI ``linux.seccomp`` section
as moby's ``profiles/seccomp`` ``setupSeccomp`` does, for one container's capabilities::

    docker profile (--security-opt seccomp=<json>, sent inline by the CLI)
        archMap ─▶ architectures: the native one and its sub-architectures
        each syscall rule: "name" ─▶ "names"; kept only if its
            includes (arches, caps ⊆ bounding set, minKernel ≤ running kernel) hold and
            excludes (an arch, a cap in the bounding set, minKernel ≤ kernel) do not
        ─▶ OCI seccomp (defaultAction, defaultErrnoRet, architectures, flags, syscalls)

The default profile is berth's resolved copy of docker's (``runtime.host.default_seccomp``,
written for docker's default capabilities) plus docker's rules that depend on capabilities
beyond those: ``--cap-add SYS_ADMIN`` allows mount, unshare, setns and any clone as it does
under docker, ``SYS_PTRACE`` process_vm_readv, ``SYS_TIME`` settimeofday, and so on.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Collection
from typing import Any, cast

from berth.errors import InvalidArgument
from berth.oci import spec as oci
from berth.runtime import host
from berth.runtime.spec import DEFAULT_CAPABILITIES

# moby profiles/seccomp/default.json: the rules that name a capability (the s390-only
# clone variant left out: berth runs on x86_64 and aarch64).
_CAP_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("CAP_DAC_READ_SEARCH", ("open_by_handle_at",)),
    ("CAP_SYS_ADMIN", (
        "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
        "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr",
        "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl",
        "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
        "umount2", "unshare")),
    ("CAP_SYS_BOOT", ("reboot",)),
    ("CAP_SYS_CHROOT", ("chroot",)),
    ("CAP_SYS_MODULE", ("delete_module", "init_module", "finit_module")),
    ("CAP_SYS_PACCT", ("acct",)),
    ("CAP_SYS_PTRACE", ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                        "process_vm_writev", "ptrace")),
    ("CAP_SYS_RAWIO", ("iopl", "ioperm")),
    ("CAP_SYS_TIME", ("settimeofday", "stime", "clock_settime", "clock_settime64")),
    ("CAP_SYS_TTY_CONFIG", ("vhangup",)),
    ("CAP_SYS_NICE", ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node")),
    ("CAP_SYSLOG", ("syslog",)),
    ("CAP_BPF", ("bpf",)),
    ("CAP_PERFMON", ("perf_event_open",)),
)
# Rules of the default that moby excludes when CAP_SYS_ADMIN is in the bounding set (the
# clone flag mask that refuses new namespaces, clone3's ENOSYS).
_WITHOUT_SYS_ADMIN = frozenset({"clone", "clone3"})

# Go's GOARCH (moby's names in includes/excludes) of platform.machine()
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}
_SECCOMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64",
                 "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE",
                 "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64",
                 "386": "SCMP_ARCH_X86"}
_NATIVE = {"386": "x86"}  # moby's goToNative where it differs from GOARCH
_OCI_KEYS = ("defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath",
             "listenerMetadata")


def default_profile(bounding: Collection[str]) -> oci.Seccomp:
    """Docker's default profile for a container with the ``bounding`` capabilities."""
    profile = host.default_seccomp()
    extra = set(bounding) - set(DEFAULT_CAPABILITIES)
    if not extra:
        return profile
    rules = profile.get("syscalls", [])
    if "CAP_SYS_ADMIN" in extra:
        rules = [r for r in rules if not set(r["names"]) <= _WITHOUT_SYS_ADMIN]
    allowed = {n for r in rules if r["action"] == "SCMP_ACT_ALLOW"
               and not cast(dict[str, Any], r).get("args") for n in r["names"]}
    names = [n for cap, ns in _CAP_RULES if cap in extra for n in ns if n not in allowed]
    if names:
        rules.append({"names": list(dict.fromkeys(names)), "action": "SCMP_ACT_ALLOW"})
    profile["syscalls"] = rules
    return profile


def parse(text: str) -> dict[str, Any]:
    """A profile's JSON, or InvalidArgument with moby's words."""
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise InvalidArgument(f"Decoding seccomp profile failed: {err}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("Decoding seccomp profile failed: json: cannot unmarshal "
                              f"{type(doc).__name__} into Go value of type seccomp.Seccomp")
    return doc


def convert(text: str, bounding: Collection[str]) -> oci.Seccomp | None:
    """A docker-format profile as the OCI section for the ``bounding`` capabilities; None
    when it names no default action and no syscalls (moby: seccomp disabled)."""
    doc = parse(text)
    rules = doc.get("syscalls") or []
    if not doc.get("defaultAction") and not rules:
        return None
    if doc.get("architectures") and doc.get("archMap"):
        raise InvalidArgument("both 'architectures' and 'archMap' are specified in the "
                              "seccomp profile, use either 'architectures' or 'archMap'")
    out: dict[str, Any] = {k: doc[k] for k in _OCI_KEYS if doc.get(k) not in (None, "", [])}
    goarch = _GOARCH.get(platform.machine(), platform.machine())
    arch = _NATIVE.get(goarch, goarch)
    native = _SECCOMP_ARCH.get(goarch)
    for entry in doc.get("archMap") or []:
        if entry.get("architecture") == native:
            out["architectures"] = [native, *(entry.get("subArchitectures") or [])]
            break
    syscalls = []
    for rule in rules:
        if rule.get("name"):
            if rule.get("names"):
                raise InvalidArgument("both 'name' and 'names' are specified in the seccomp "
                                      "profile, use either 'name' or 'names'")
            rule = {**rule, "names": [rule["name"]]}
        if _applies(rule, arch, bounding):
            syscalls.append({k: v for k, v in rule.items()
                             if k in ("names", "action", "errnoRet", "args")})
    if not out.get("defaultAction"):
        raise InvalidArgument("seccomp profile has no defaultAction")
    out["syscalls"] = syscalls
    return cast(oci.Seccomp, out)


def _applies(rule: dict[str, Any], arch: str, bounding: Collection[str]) -> bool:
    exc, inc = rule.get("excludes") or {}, rule.get("includes") or {}
    if arch in (exc.get("arches") or []):
        return False
    if any(c in bounding for c in exc.get("caps") or []):
        return False
    if exc.get("minKernel") and _kernel_at_least(exc["minKernel"]):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if not all(c in bounding for c in inc.get("caps") or []):
        return False
    return not (inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]))


def _kernel_at_least(version: str) -> bool:
    """moby's ``kernelGreaterEqualThan`` over ``major.minor``."""
    def parts(text: str) -> tuple[int, int]:
        fields = text.split("-")[0].split(".")
        try:
            return int(fields[0]), int(fields[1]) if len(fields) > 1 else 0
        except ValueError:
            raise InvalidArgument(f"invalid kernel version: {text}") from None
    return parts(os.uname().release) >= parts(version)
