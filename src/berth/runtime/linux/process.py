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

Messages are JSON lines on one CLOEXEC pipe both children inherit; "pid" and "ready" may
arrive in either order (init can outrun child 1); EOF before both means a child died. The
start handshake uses a FIFO in the state dir, not a pipe, so a created container survives
the ``berth-runtime create`` process exiting (runc's exec.fifo).

``spawn`` is the shared half: ``exec.spawn_exec`` uses the same two children and pipe,
joining the namespaces of a running init instead of unsharing, and stops at EOF (the
pipe is CLOEXEC, so execve closes it) instead of at "ready".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from berth.errors import RuntimeFailure
from berth.runtime.linux import init
from berth.runtime.linux import syscalls as sc
from berth.runtime.linux.cgroups import CgroupManager

# After the stdio shuffle the children keep only 0, 1, 2, the sync pipe and the caller's
# ``keep`` fds, renumbered from KEEP_FDS in order.
_SYNC_FD = 3
KEEP_FDS = 4
_START_POLL_MS = 100

Report = Callable[[dict[str, object]], None]


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


@dataclass(frozen=True)
class SpawnRequest:
    config: init.InitConfig
    stdio: tuple[int, int, int]
    cgroup: CgroupManager | None


def spawn_init(request: SpawnRequest) -> int:
    """Fork init; return its host pid once it is blocked before exec.

    Raises ``RuntimeFailure`` with init's message (after killing what was started)."""
    config = request.config
    keep = [config.state_dir_fd]
    if config.console_socket is not None:
        keep.append(config.console_socket)
    inner = init.InitConfig(config.spec, config.bundle, KEEP_FDS, config.seccomp_program,
                            None if config.console_socket is None else KEEP_FDS + 1)
    return spawn(ForkPlan(
        stdio=request.stdio, keep=keep,
        enter=lambda: _enter_namespaces(request),
        body=lambda report: init.run(inner, report),
        until_exec=False,
    ))


def spawn(plan: ForkPlan) -> int:
    """Fork child 1, which enters the namespaces and forks child 2; return child 2's host
    pid once it reported "ready" (or reached execve, with ``until_exec``)."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    child1 = os.fork()
    if child1 == 0:  # pragma: no cover - runs in the child, reported through the pipe
        os.close(read_fd)
        _child_main(plan, write_fd)
    os.close(write_fd)
    pid = 0
    ready = False
    error: str | None = None
    try:
        with os.fdopen(read_fd, "rb") as sync:
            # Child 2 may report before child 1 gets to send its pid: take either order.
            while not (pid and ready and not plan.until_exec):
                line = sync.readline()
                if not line:
                    break  # EOF: child 2 exec'd (CLOEXEC), or a child died
                msg = json.loads(line)
                if msg.get("type") == "pid":
                    pid = int(msg["pid"])
                elif msg.get("type") == "ready":
                    ready = True
                else:
                    error = str(msg.get("message", "container process failed"))
                    break
            os.waitpid(child1, 0)
    except BaseException:
        kill_and_reap(pid)
        raise
    if error is not None or not pid or not (ready or plan.until_exec):
        kill_and_reap(pid)
        raise RuntimeFailure(error or "container process exited without reporting")
    return pid


def release_init(state_dir: Path, pid: int) -> None:
    """Open exec.fifo for reading, which lets init's blocked open return; wait for its
    byte. Fails instead of hanging if init died while waiting."""
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


def _child_main(plan: ForkPlan, sync_fd: int) -> NoReturn:  # pragma: no cover
    """Both children run this; it never returns (an exception must not unwind into the
    caller's stack, e.g. the shim's loop or pytest)."""
    code = 1
    try:
        # The caller's signal wakeup fd number is about to be closed and reused (maybe by
        # a pty master): a signal must not write a byte into it.
        with contextlib.suppress(ValueError):  # only possible from the main thread
            signal.set_wakeup_fd(-1)
        _prepare_fds(plan.stdio, sync_fd, plan.keep)
        plan.enter()
        pid = os.fork()
        if pid == 0:
            plan.body(lambda msg: _send(_SYNC_FD, msg))
        _send(_SYNC_FD, {"type": "pid", "pid": pid})
        code = 0
    except init.ExecError as err:
        _send(_SYNC_FD, {"type": "error", "message": str(err)})
    except BaseException as err:
        _send(_SYNC_FD, {"type": "error", "message": _describe(err)})
    finally:
        os._exit(code)


def _describe(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename:
        return f"{type(err).__name__}: {err.strerror}: {err.filename}"
    return f"{type(err).__name__}: {err}"


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
    if request.cgroup is not None:
        request.cgroup.add_process(0)
    flags = 0
    for ns in request.config.spec["linux"].get("namespaces", []):
        flag = sc.NAMESPACE_FLAGS[ns["type"]]
        if "path" in ns:
            fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                sc.setns(fd, flag)
            finally:
                os.close(fd)
        else:
            flags |= flag
    if flags:
        sc.unshare(flags)


def wait_reaped(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is gone or a zombie; for callers that are not its parent."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
