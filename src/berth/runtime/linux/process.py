"""Fork the container's init into its namespaces, and the parent/child sync protocol.

The caller never enters a namespace itself: an intermediate child unshares (including
CLONE_NEWPID, which only applies to children), forks init as PID 1 and exits. Init is then
reparented to the nearest subreaper (the shim, which sets PR_SET_CHILD_SUBREAPER), so the
shim can ``waitpid`` it as runc's callers do.

::

    caller (shim / CLI)             child 1 (intermediate)          child 2 = init (PID 1)
    ───────────────────             ──────────────────────          ──────────────────────
    cgroup create + apply
    mkfifo <state>/exec.fifo
    fork ─────────────────────────▶ stdio → 0,1,2; close the rest
                                    join cgroup ("0" → cgroup.procs)  (before NEWCGROUP, so
                                    setns(ns with a path)              the ns root is ours)
                                    unshare(NEWNS|NEWPID|...)
                                    fork ─────────────────────────▶  init.run(): hostname,
     ◀──── {"type": "pid", "pid": N} ──                                rootfs, pivot_root,
    waitpid(child 1)                _exit(0)                           user, caps, $PATH...
     ◀──────────────────────────────────────────────────────────── {"type": "ready"}
    return N                                                           or {"type": "error",
                                                                           "message": ...}
                                                                     open(exec.fifo, W) blocks
    start(): open(exec.fifo, R) ─────────────────────────────────▶  write "0"; [seccomp];
     ◀──── reads "0" ──────────────────────────────────────────────  execve(args)

Messages are JSON lines on one CLOEXEC socket both children inherit; "pid" and "ready" may
arrive in either order (init can outrun child 1); EOF before both means a child died. The
start handshake uses a FIFO in the state dir, not a pipe, so a created container survives
the ``berth-runtime create`` process exiting (runc's exec.fifo).

Two requests need the caller to act and answer (one byte back on the same socket) before
the child goes on (``ParentSteps``)::

    child 1, after unshare(CLONE_NEWUSER):  {"type": "userns", "ack": true}
        caller writes /proc/<child 1>/uid_map, gid_map (userns.py)
    init, mounts done, before pivot_root:   {"type": "hooks", "ack": true}
        caller runs prestart + createRuntime hooks with init's host pid (hooks.py)

``spawn`` is the shared half: ``exec.spawn_exec`` uses the same two children and pipe,
joining the namespaces of a running init instead of unsharing, and stops at EOF (the
pipe is CLOEXEC, so execve closes it) instead of at "ready".
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn

from berth.errors import RuntimeFailure
from berth.runtime.linux import hooks, init, rootfs, userns, validate
from berth.runtime.linux import syscalls as sc
from berth.runtime.linux.cgroups import CgroupManager

# After the stdio shuffle the children keep only 0, 1, 2, the sync pipe and the caller's
# ``keep`` fds, renumbered from KEEP_FDS in order.
_SYNC_FD = 3
KEEP_FDS = 4
# runc's order for joining namespaces by path: the user namespace first (it grants the
# rights for the others), the mount namespace late, cgroup last.
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "mount", "cgroup", "time")
_START_POLL_MS = 100

Report = Callable[[dict[str, object]], None]


@dataclass(frozen=True)
class ParentSteps:
    """What the caller does when a child asks (see the module docstring)."""

    map_ids: Callable[[int], None] | None = None  # given child 1's pid
    hooks: Callable[[int], None] | None = None  # given init's host pid


@dataclass(frozen=True)
class ForkPlan:
    """What both children of one spawn do (create and exec share the protocol)."""

    stdio: tuple[int, int, int]
    keep: Sequence[int]  # become KEEP_FDS, KEEP_FDS + 1, ... (close-on-exec) in the children
    enter: Callable[[], None]  # child 1: join the cgroup, setns/unshare
    body: Callable[[Report], NoReturn]  # child 2: set up the process and execve
    # create: init says "ready" and then blocks, so stop there; exec: the pipe is CLOEXEC,
    # so EOF after the pid (and no error) means child 2 reached execve.
    until_exec: bool
    steps: ParentSteps = ParentSteps()


@dataclass(frozen=True)
class SpawnRequest:
    config: init.InitConfig
    stdio: tuple[int, int, int]
    cgroup: CgroupManager | None
    steps: ParentSteps = ParentSteps()


def spawn_init(request: SpawnRequest) -> int:
    """Fork init; return its host pid once it is blocked before exec.

    Raises ``RuntimeFailure`` with init's message (after killing what was started)."""
    config = request.config
    keep = [config.state_dir_fd]
    if config.console_socket is not None:
        keep.append(config.console_socket)
    # runc's --preserve-fds: the caller's 3..3+N-1 ride along after the others.
    preserved_at = KEEP_FDS + len(keep)
    keep.extend(range(3, 3 + config.preserve_fds))
    inner = dataclasses.replace(
        config, state_dir_fd=KEEP_FDS, preserved_at=preserved_at,
        console_socket=None if config.console_socket is None else KEEP_FDS + 1)
    return spawn(ForkPlan(
        stdio=request.stdio, keep=keep,
        enter=lambda: _enter_namespaces(request),
        body=lambda report: init.run(inner, report),
        until_exec=False, steps=request.steps,
    ))


def spawn(plan: ForkPlan) -> int:
    """Fork child 1, which enters the namespaces and forks child 2; return child 2's host
    pid once it reported "ready" (or reached execve, with ``until_exec``)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child1 = os.fork()
    if child1 == 0:  # pragma: no cover - runs in the child, reported through the socket
        ours.close()
        _child_main(plan, theirs.detach())
    theirs.close()
    pid = 0
    try:
        with ours, ours.makefile("rb") as sync:
            pid, ready, error = _serve(plan, sync, ours, child1)
            os.waitpid(child1, 0)
    except BaseException:
        kill_and_reap(pid)
        kill_and_reap(child1)
        raise
    if error is not None or not pid or not (ready or plan.until_exec):
        kill_and_reap(pid)
        raise RuntimeFailure(error or "container process exited without reporting")
    return pid


def _serve(plan: ForkPlan, sync: BinaryIO, sock: socket.socket,
           child1: int) -> tuple[int, bool, str | None]:
    """Read the children's messages until init is ready (or exec'd, or failed), acting on
    their requests; returns (init's pid, ready, error)."""
    pid = 0
    ready = False
    hooks_pending = False
    while not (pid and ready and not plan.until_exec):
        line = sync.readline()
        if not line:
            break  # EOF: child 2 exec'd (CLOEXEC), or a child died
        msg = json.loads(line)
        kind = msg.get("type")
        if kind == "pid":
            pid = int(msg["pid"])
        elif kind == "ready":
            ready = True
        elif kind == "userns" and plan.steps.map_ids is not None:
            plan.steps.map_ids(child1)
            _ack(sock)
        elif kind == "hooks":
            hooks_pending = True
        else:
            return pid, ready, str(msg.get("message", "container process failed"))
        if hooks_pending and pid:  # the hooks need init's pid, which may come second
            hooks_pending = False
            if plan.steps.hooks is not None:
                plan.steps.hooks(pid)
            _ack(sock)
    return pid, ready, None


def _ack(sock: socket.socket) -> None:
    try:
        sock.sendall(b"1")
    except OSError:
        pass  # the child died meanwhile; its EOF ends the conversation


def release_init(state_dir: Path, pid: int) -> None:
    """Open exec.fifo for reading, which lets init's blocked open return; wait for its
    byte, then for EOF (init exec'd: the startContainer hooks are done). Fails instead
    of hanging if init died while waiting for the byte."""
    fifo = state_dir / init.EXEC_FIFO
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RuntimeFailure("container is not in the created state") from None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll(_START_POLL_MS):
            if not is_alive(pid):
                raise RuntimeFailure("container init exited before start")
        if os.read(fd, 1) != b"0":
            raise RuntimeFailure("container init exited before start")
        # Init holds the write end until execve (close-on-exec): EOF means it exec'd.
        while not poller.poll(_START_POLL_MS) or os.read(fd, 1):
            if not is_alive(pid):
                break
    finally:
        os.close(fd)
        fifo.unlink(missing_ok=True)


def is_alive(pid: int) -> bool:
    """True unless ``pid`` is gone or a zombie (kill(pid, 0) succeeds on zombies)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")


def start_time(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat: with the pid, identifies the process across pid reuse."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2:].split()[19])


def kill_and_reap(pid: int) -> None:
    if pid <= 0:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    try:  # ours only when the caller is a subreaper; otherwise init reaps it
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


_PR_SET_DUMPABLE = 4  # linux/prctl.h


def _child_main(plan: ForkPlan, sync_fd: int) -> NoReturn:  # pragma: no cover
    """Both children run this; it never returns (an exception must not unwind into the
    caller's stack, e.g. the shim's loop or pytest)."""
    code = 1
    try:
        # Not dumpable until execve (which makes the container's binary dumpable again),
        # as runc's nsexec: once in the container's pid namespace, its root must not open
        # our /proc/<pid>/{exe,fd,...} (the host's Python, the state dir's fd, the socket
        # to the caller) nor ptrace us (tests/compat/test_escapes.py).
        sc.prctl(_PR_SET_DUMPABLE, 0)
        # The caller's signal wakeup fd number is about to be closed and reused (maybe by
        # a pty master): a signal must not write a byte into it.
        with contextlib.suppress(ValueError):  # only possible from the main thread
            signal.set_wakeup_fd(-1)
        _prepare_fds(plan.stdio, sync_fd, plan.keep)
        plan.enter()
        pid = os.fork()
        if pid == 0:
            plan.body(ask_parent)
        _send(_SYNC_FD, {"type": "pid", "pid": pid})
        code = 0
    except (init.InitError, hooks.HookError, rootfs.RootfsError) as err:
        _send(_SYNC_FD, {"type": "error", "message": str(err)})
    except BaseException as err:
        _send(_SYNC_FD, {"type": "error", "message": _describe(err)})
    finally:
        os._exit(code)


def _describe(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename:
        return f"{type(err).__name__}: {err.strerror}: {err.filename}"
    return f"{type(err).__name__}: {err}"


def ask_parent(msg: dict[str, object]) -> None:
    """Report ``msg``; with ``"ack": True`` wait for the caller's answer."""
    _send(_SYNC_FD, msg)
    if msg.get("ack") and os.read(_SYNC_FD, 1) != b"1":
        raise RuntimeError(f"the runtime went away during {msg.get('type')}")


def _send(fd: int, msg: dict[str, object]) -> None:
    try:
        os.write(fd, json.dumps(msg).encode() + b"\n")
    except OSError:
        pass  # the parent is gone; nothing left to tell


def _prepare_fds(stdio: tuple[int, int, int], sync_fd: int, keep: Sequence[int]) -> None:
    """stdio becomes 0/1/2, sync → 3, ``keep`` → 4, 5, ...; every other fd is closed.
    Everything is first duplicated above 10 because the sources may overlap the targets."""
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (*stdio, sync_fd, *keep)]
    for target, fd in enumerate(moved[:3]):
        os.dup2(fd, target, inheritable=True)
    for target, fd in enumerate(moved[3:], start=_SYNC_FD):
        os.dup2(fd, target, inheritable=False)
    os.closerange(_SYNC_FD + 1 + len(keep), os.sysconf("SC_OPEN_MAX"))


def _enter_namespaces(request: SpawnRequest) -> None:
    """Join the cgroup, then the namespaces given by path (user first), then create the
    user namespace (and have the caller map it), then every other new namespace, now
    owned by it (runc's nsexec order)."""
    if request.cgroup is not None:
        request.cgroup.add_process(0)
    spec = request.config.spec
    # Both with the caller's credentials, before any user namespace (runc's parent sets
    # rlimits; nsexec writes oom_score_adj first thing).
    init.set_rlimits(spec["process"])
    if "oomScoreAdj" in spec["process"]:
        init.set_oom_score_adj(spec["process"]["oomScoreAdj"])
    namespaces = spec["linux"].get("namespaces", [])
    order = {t: i for i, t in enumerate(JOIN_ORDER)}
    joins = sorted((ns for ns in namespaces if "path" in ns),
                   key=lambda ns: order.get(ns["type"], len(order)))
    fds = [(os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC), sc.NAMESPACE_FLAGS[ns["type"]])
           for ns in joins]
    try:
        for fd, flag in fds:
            sc.setns(fd, flag)
    finally:
        for fd, _ in fds:
            os.close(fd)
    if any(ns["type"] == "user" for ns in joins):  # root of the joined one, as nsexec
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        if userns.setgroups_allowed():
            os.setgroups([])
    new = {ns["type"] for ns in namespaces if "path" not in ns}
    if "user" in new:
        sc.unshare(sc.CLONE_NEWUSER)
        ask_parent({"type": "userns", "ack": True})
        # Root of the new namespace (the mapped host id) with every capability in it.
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        if userns.setgroups_allowed():
            os.setgroups([])
    flags = 0
    for kind in new - {"user"}:
        flags |= sc.NAMESPACE_FLAGS[kind]
    if flags:
        sc.unshare(flags)
    if "time" in new:
        _set_time_offsets(validate.linux_of(spec).get("timeOffsets") or {})


def _set_time_offsets(offsets: dict[str, validate.TimeOffset]) -> None:
    """Only possible before the first process enters the new time namespace (init)."""
    lines = "".join(f"{clock} {o.get('secs', 0)} {o.get('nanosecs', 0)}\n"
                    for clock, o in offsets.items())
    if lines:
        fd = os.open("/proc/self/timens_offsets", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)


def wait_reaped(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is gone or a zombie; for callers that are not its parent."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
