"""``--cap-add``/``--cap-drop``/``--privileged`` as docker resolves them (moby
``daemon/pkg/oci/caps``): names normalised (any case, with or without ``CAP_``, the magic
``ALL``), refused when unknown, then applied to docker's default set::

    privileged           every capability the daemon itself has
    ALL in cap-add       every capability the daemon has, minus cap-drop
    ALL in cap-drop      exactly cap-add
    otherwise            the defaults minus cap-drop, then cap-add appended

"Every capability" is the host's: the ones the kernel knows (``cap_last_cap``) that are
in berthd's own bounding set, as containerd's ``cap.Current``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from berth.errors import InvalidArgument
from berth.runtime.spec import DEFAULT_CAPABILITIES

ALL = "ALL"

# containerd's ``cap.Known()``: every capability name by number.
KNOWN: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)


@cache
def current() -> tuple[str, ...]:
    """The capabilities this host gives: known to the kernel and in berthd's bounding set
    (all of KNOWN if neither can be read, as containerd falls back)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
        with open("/proc/self/status") as f:
            bounding = next(int(line.split()[1], 16) for line in f
                            if line.startswith("CapBnd:"))
    except (OSError, ValueError, StopIteration):
        return KNOWN
    return tuple(name for bit, name in enumerate(KNOWN) if bit <= last and bounding >> bit & 1)


def normalize(caps: Sequence[str], field: str) -> list[str]:
    """Upper case with a ``CAP_`` prefix (``ALL`` kept); InvalidArgument as moby words it
    (``invalid CapAdd: unknown capability: "CAP_FOO"``) for a name it does not know."""
    out = []
    for raw in caps:
        name = raw.upper()
        if name != ALL:
            if not name.startswith("CAP_"):
                name = "CAP_" + name
            if name not in KNOWN:
                raise InvalidArgument(f'invalid {field}: unknown capability: "{name}"')
            if name not in current():
                raise InvalidArgument(
                    f"invalid {field}: capability not supported by your kernel or not "
                    f'available in the current environment: "{name}"')
        out.append(name)
    return out


def resolve(add: Sequence[str], drop: Sequence[str], privileged: bool) -> list[str]:
    """The container's capability set (moby's ``TweakCapabilities``)."""
    if privileged:
        return list(current())
    if not add and not drop:
        return list(DEFAULT_CAPABILITIES)
    dropped = normalize(drop, "CapDrop")
    added = normalize(add, "CapAdd")
    if ALL in added:
        return [c for c in current() if c not in dropped]
    if ALL in dropped:
        return list(dict.fromkeys(added))
    kept = [c for c in DEFAULT_CAPABILITIES if c not in dropped]
    return list(dict.fromkeys([*kept, *added]))
