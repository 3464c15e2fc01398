"""``berth-runtime spec`` and ``features``: runc's starter bundle and feature document.

``spec`` writes runc's default ``config.json`` (tab-indented, no final newline, refused
when one exists) into ``--bundle`` or the current directory; ``--rootless`` applies
runc's ``specconv.ToRootless``: a user namespace mapping the caller's uid/gid, no network
namespace, ``/sys`` bound instead of mounted, no ``gid=`` on devpts, no resources.

``features`` prints what this runtime supports in the OCI features document (the
shape ``runc features`` prints), taken from the tables the runtime itself uses.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
from pathlib import Path
from typing import Any

from berth import __version__
from berth.runtime.linux import capabilities, rootfs, seccomp
from berth.runtime.linux import syscalls as sc
from berth.runtime.linux.cli_log import CommandError
from berth.runtime.linux.state import OCI_VERSION

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

DEFAULT_SPEC: dict[str, Any] = {
    "ociVersion": OCI_VERSION,
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"],
        "cwd": "/",
        "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted",
                                                  "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                     "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    },
}

_HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
          "poststop"]
_SECCOMP_ACTIONS = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                    "SCMP_ACT_TRAP"]


def register(sub: Any) -> None:
    p = sub.add_parser("spec")
    p.add_argument("--bundle", "-b", type=Path)
    p.add_argument("--rootless", action="store_true")
    p.set_defaults(func=spec)
    p = sub.add_parser("features")
    p.set_defaults(func=features)


def default_spec(rootless: bool = False) -> dict[str, Any]:
    doc = copy.deepcopy(DEFAULT_SPEC)
    if rootless:
        to_rootless(doc)
    return doc


def to_rootless(doc: dict[str, Any]) -> None:
    """runc's specconv.ToRootless on the default spec."""
    linux = doc["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"]
                           if ns["type"] not in ("network", "user", "cgroup")]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    for mount in doc["mounts"]:
        if mount["destination"] == "/sys":
            mount.update(type="none", source="/sys",
                         options=["rbind", "nosuid", "noexec", "nodev", "ro"])
        mount["options"] = [o for o in mount.get("options", []) if not o.startswith("gid=")]
        if not mount["options"]:
            del mount["options"]
    linux.pop("resources", None)
    # Key order as runc's struct: uid/gid mappings come before the namespaces.
    doc["linux"] = {k: linux[k] for k in ("uidMappings", "gidMappings", "namespaces",
                                          "maskedPaths", "readonlyPaths") if k in linux}


def spec(args: argparse.Namespace) -> int:
    bundle = args.bundle or Path(".")
    target = bundle / "config.json"
    if target.exists():
        raise CommandError("File config.json exists. Remove it first")
    try:
        # Go's MarshalIndent with a tab, written without a final newline.
        target.write_text(json.dumps(default_spec(args.rootless), indent="\t"))
    except OSError as err:
        raise CommandError(f"open {target}: {os.strerror(err.errno or 0).lower()}") from None
    return 0


def features_document() -> dict[str, Any]:
    options = sorted({*rootfs._MOUNT_FLAGS, *rootfs._PROPAGATION, "defaults"})
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(_HOOKS),
        "mountOptions": options,
        "linux": {
            "namespaces": sorted(sc.NAMESPACE_FLAGS),
            "capabilities": list(capabilities.CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {
                "enabled": True,
                "actions": list(_SECCOMP_ACTIONS),
                "operators": sorted(seccomp._OPS),
                "archs": sorted(seccomp._ARCHES),
            },
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.berth.runtime.version": __version__},
    }


def features(args: argparse.Namespace) -> int:
    # runc prints it with four spaces and a final newline.
    print(json.dumps(features_document(), indent=4))
    return 0
