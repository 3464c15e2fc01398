"""``run``/``create``'s security flags, parsed as docker 28's CLI parses them (issue 13).

Checked here, as docker's CLI checks them: ``--sysctl`` (only namespaced ones, docker's
``ValidateSysctl``), ``--pid/--uts/--userns/--cgroupns`` modes, and ``--security-opt``'s
shape; a ``seccomp=<file>`` is read and sent as its compact JSON, and
``systempaths=unconfined`` becomes empty MaskedPaths/ReadonlyPaths. Capabilities,
``--ipc`` and the other options are the daemon's to judge.
"""

from __future__ import annotations

from berth.cli.flags import Flag, UsageError
from berth.client.security import ContainerSecurity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.flags import Options

_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                      "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                      "kernel.shm_rmid_forced"})


def validate_sysctl(text: str) -> tuple[str, str]:
    """docker's ``opts.ValidateSysctl``: ``key=value`` of a namespaced sysctl."""
    key, sep, value = text.partition("=")
    if sep and key and (key in _SYSCTLS or key.startswith(("net.", "fs.mqueue."))):
        return key, value
    raise ValueError(f"sysctl '{text}' is not allowed")


SECURITY_FLAGS: tuple[Flag, ...] = (
    Flag("cap-add", kind="list", help="Add Linux capabilities"),
    Flag("cap-drop", kind="list", help="Drop Linux capabilities"),
    Flag("cgroupns", kind="str", default="",
         help="Cgroup namespace to use (host|private)"),
    Flag("group-add", kind="list", help="Add additional groups to join"),
    Flag("ipc", kind="str", default="", help="IPC mode to use"),
    Flag("pid", kind="str", default="", help="PID namespace to use"),
    Flag("privileged", kind="bool", help="Give extended privileges to this container"),
    Flag("security-opt", kind="list", help="Security Options"),
    Flag("sysctl", kind="list", convert=validate_sysctl, metavar="map", help="Sysctl options"),
    Flag("userns", kind="str", default="", help="User namespace to use"),
    Flag("uts", kind="str", default="", help="UTS namespace to use"),
)
_DESTS = frozenset(f.dest for f in SECURITY_FLAGS)


def security_config(opts: Options) -> ContainerSecurity | None:
    """The security options the flags ask for; None when none is given."""
    if not opts.given & _DESTS:
        return None
    pid, uts, userns, cgroupns = opts.pid, opts.uts, opts.userns, opts.cgroupns
    if not (pid in ("", "host") or (pid.startswith("container:") and len(pid) > 10)):
        raise UsageError("--pid: invalid PID mode")
    if uts not in ("", "host"):
        raise UsageError("--uts: invalid UTS mode")
    if userns not in ("", "host"):
        raise UsageError("--userns: invalid USER mode")
    if cgroupns not in ("", "host", "private"):
        raise UsageError("--cgroupns: invalid CGROUP mode")
    security_opt = [_security_opt(o) for o in opts.security_opt]
    unconfined = "systempaths=unconfined" in security_opt
    return ContainerSecurity(
        cap_add=_capabilities(opts.cap_add), cap_drop=_capabilities(opts.cap_drop),
        privileged=opts.privileged,
        security_opt=tuple(o for o in security_opt if o != "systempaths=unconfined"),
        unconfined_paths=unconfined, group_add=tuple(opts.group_add),
        sysctls=tuple(opts.sysctl), pid_mode=pid, ipc_mode=opts.ipc, uts_mode=uts,
        cgroupns_mode=cgroupns, userns_mode=userns)


def _capabilities(given: list[str]) -> tuple[str, ...]:
    """As docker 28's CLI sends them: upper case, ``CAP_`` prefixed (``ALL`` kept),
    without duplicates, sorted; the daemon judges the names."""
    names = {c.strip().upper() for c in given}
    return tuple(sorted(c if c in ("ALL", "RESET") or c.startswith("CAP_") else "CAP_" + c
                        for c in names))


def _security_opt(opt: str) -> str:
    """docker's ``parseSecurityOpts``: ``k=v`` (or ``k:v``); a seccomp profile's file read
    and sent inline."""
    key, sep, value = opt.partition("=")
    if not sep and key != "no-new-privileges":
        key, sep, value = opt.partition(":")
    if (not sep or not value) and key != "no-new-privileges":
        raise UsageError(f'invalid --security-opt: "{opt}"')
    if key != "seccomp" or value in ("builtin", "unconfined"):
        return opt
    import json  # only a profile pays for it

    try:
        with open(value, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise UsageError(f"opening seccomp profile ({value}) failed: open {value}: "
                         f"{(err.strerror or '').lower()}") from None
    try:
        compact = json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
    except ValueError as err:
        raise UsageError(f"compacting json for seccomp profile ({value}) failed: {err}"
                         ) from None
    return "seccomp=" + compact
