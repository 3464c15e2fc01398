"""Linux capabilities: names, and applying the spec's sets to the init process.

Order matters and follows runc (``capabilities_linux.go`` + ``finalizeNamespace``)::

    drop_bounding()           needs CAP_SETPCAP, so while still root
    prctl(PR_SET_KEEPCAPS)    so setuid() to a non-root user keeps the permitted set
    setgroups/setgid/setuid   (process.py)
    apply_sets()              capset effective/permitted/inheritable, then raise ambient

For a non-root user the kernel clears the effective set at setuid() even with KEEPCAPS;
capset afterwards restores exactly what the spec asks for.
"""

from __future__ import annotations

import contextlib

from berth.oci import spec as oci
from berth.runtime.linux import syscalls as sc

CAPABILITIES: dict[str, int] = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}

# Docker's default set is the spec builder's (runtime/spec.py DEFAULT_CAPABILITIES): this
# runtime applies whatever a spec asks for, as runc does.


def mask(names: list[str]) -> int:
    """The bit mask of ``names``; names this table (or kernel) does not know are ignored,
    as runc ignores capabilities newer than it."""
    bits = 0
    for name in names:
        number = CAPABILITIES.get(name.upper() if name.upper().startswith("CAP_")
                                  else "CAP_" + name.upper())
        if number is not None:
            bits |= 1 << number
    return bits


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return max(CAPABILITIES.values())


def drop_bounding(caps: oci.Capabilities) -> None:
    keep = mask(caps.get("bounding", []))
    for number in range(last_cap() + 1):
        if not keep & (1 << number):
            sc.prctl(sc.PR_CAPBSET_DROP, number)


def keep_across_setuid(enabled: bool) -> None:
    sc.prctl(sc.PR_SET_KEEPCAPS, 1 if enabled else 0)


def apply_sets(caps: oci.Capabilities) -> None:
    sc.capset(
        effective=mask(caps.get("effective", [])),
        permitted=mask(caps.get("permitted", [])),
        inheritable=mask(caps.get("inheritable", [])),
    )
    sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    ambient = mask(caps.get("ambient", []))
    for number in range(last_cap() + 1):
        if ambient & (1 << number):
            # Only a capability both permitted and inheritable can be raised; runc only
            # warns otherwise (its own `runc spec` asks for ambient without inheritable).
            with contextlib.suppress(PermissionError):
                sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, number)
