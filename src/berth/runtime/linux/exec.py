"""Run one more process in a running container (``runc exec``; runc's ``nsexec.c`` join
order and ``setns_init_linux.go``).

Same two children and sync pipe as ``process.spawn_init``, so the caller (the shim) never
enters a namespace::

    caller                        child 1                           child 2 (the exec)
    ──────                        ───────                           ──────────────────
    compile seccomp (cached)
    fork ───────────────────────▶ stdio → 0,1,2; close the rest
                                  open /proc/<init>/ns/* (all first:
                                    after setns(mnt) /proc is the
                                    container's, where <init> is 1)
                                  join init's cgroup (cgroup.procs,
                                    before the cgroup ns: its root
                                    is the cgroup we are in)
                                  setns user, ipc, uts, net, pid,
                                    mnt, cgroup
                                  fork (setns(pid) only applies to
                                    children) ─────────────────────▶ [terminal: pty from the
     ◀──── {"type": "pid", "pid": N} ──                                container's devpts]
    waitpid(child 1)              _exit(0)                           rlimits … no_new_privs
     ◀──── EOF (execve closed the CLOEXEC pipe) ─────────────────── [seccomp] execve
           or {"type": "error", "message": ...}

Child 2 is reparented to the caller (a subreaper), which reaps it; it dies with the
container's pid namespace when the container's init exits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from berth.oci import spec as oci
from berth.runtime.linux import console, init, process
from berth.runtime.linux import syscalls as sc
from berth.runtime.linux.cgroups import CgroupManager

# runc's order: the user namespace first (it grants the rights for the others), the mount
# namespace late (it changes what every later path means), cgroup last (its root is the
# cgroup joined before).
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "mount", "cgroup", "time")
_PROC_NS = {"user": "user", "ipc": "ipc", "uts": "uts", "network": "net", "pid": "pid",
            "mount": "mnt", "cgroup": "cgroup", "time": "time"}


@dataclass(frozen=True)
class ExecRequest:
    init_pid: int
    spec: oci.Spec  # the container's: which namespaces to join
    process: oci.Process  # the exec's
    stdio: tuple[int, int, int]
    cgroup: CgroupManager | None
    seccomp_program: bytes | None  # the container's profile, compiled
    console_socket: int | None  # with process.terminal: where the pty master goes


def spawn_exec(request: ExecRequest) -> int:
    """Start the process; return its host pid once it reached execve. Raises
    ``RuntimeFailure`` with runc's words (e.g. executable file not found in $PATH)."""
    types = namespaces_to_join(request.spec)
    keep = [] if request.console_socket is None else [request.console_socket]
    console_fd = None if request.console_socket is None else process.KEEP_FDS

    def body(report: process.Report) -> NoReturn:
        _run(request.process, request.seccomp_program, console_fd)

    return process.spawn(process.ForkPlan(
        stdio=request.stdio, keep=keep,
        enter=_joiner(request.init_pid, types, request.cgroup, request.process),
        body=body, until_exec=True,
    ))


def namespaces_to_join(spec: oci.Spec) -> list[str]:
    """Every namespace the container has (its own or one it joined), in join order; the
    others it shares with the host, as the caller does."""
    present = {ns["type"] for ns in spec["linux"].get("namespaces", [])}
    unknown = present - set(JOIN_ORDER)
    if unknown:
        raise ValueError(f"cannot join namespace type(s) {sorted(unknown)}")
    return [t for t in JOIN_ORDER if t in present]


def _joiner(init_pid: int, types: list[str], cgroup: CgroupManager | None,
            proc: oci.Process) -> Callable[[], None]:
    def join() -> None:  # pragma: no cover - runs in child 1
        # With the caller's credentials, before the user namespace, as for init.
        init.set_rlimits(proc)
        if "oomScoreAdj" in proc:
            init.set_oom_score_adj(proc["oomScoreAdj"])
        fds = []
        try:
            for t in types:
                fd = os.open(f"/proc/{init_pid}/ns/{_PROC_NS[t]}", os.O_RDONLY | os.O_CLOEXEC)
                fds.append((fd, sc.NAMESPACE_FLAGS[t]))
            if cgroup is not None:
                cgroup.add_process(0)
            for fd, flag in fds:
                sc.setns(fd, flag)
        finally:
            for fd, _ in fds:
                os.close(fd)

    return join


def _run(proc: oci.Process, seccomp_program: bytes | None,
         console_fd: int | None) -> NoReturn:  # pragma: no cover - runs in child 2
    if proc.get("terminal") and console_fd is not None:
        console.setup_in_container(console_fd, init.console_size(proc))
    path, env = init.prepare_process(proc, seccomp_program)
    init.execute(path, proc, env, seccomp_program)
