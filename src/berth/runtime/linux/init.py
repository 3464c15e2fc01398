"""The container's init: everything between the namespaces and ``execve`` (runc's
``standard_init_linux.go``). Runs in child 2 of ``process.spawn_init`` as PID 1 of the new
PID namespace, already inside every namespace of the spec and in the container's cgroup.

Order (each step needs what the previous one gave, or must happen before a privilege is
dropped)::

    sethostname → lo up (a new network namespace) → prepare_rootfs (mounts, devices;
    [ask the caller to run prestart/createRuntime hooks; createContainer hooks]; pivot_root)
    → mkdir cwd → [terminal: pty from the container's devpts, master to the console
    socket] → sysctl → finalize_rootfs (readonly/masked paths, ro root) → memory policy
    → rlimits, oom_score_adj, umask → drop bounding caps → [seccomp if no_new_privs is
    off: loading needs CAP_SYS_ADMIN] → setgroups/setgid/setuid with KEEPCAPS → capset
    → chdir(cwd) → $HOME from /etc/passwd if unset → resolve args[0] on $PATH
    → no_new_privs → [terminal: setsid, TIOCSCTTY] → report "ready" → block on exec.fifo
    → startContainer hooks → [seccomp if no_new_privs] → execve

From rlimits to the controlling terminal is ``prepare_process``, which ``exec`` shares.
It only reports through ``report`` and never returns: the caller ``os._exit``s.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from berth.oci import spec as oci
from berth.runtime.linux import (
    capabilities,
    console,
    hooks,
    mempolicy,
    rootfs,
    seccomp,
    userns,
    validate,
)
from berth.runtime.linux import syscalls as sc

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EXEC_FIFO = "exec.fifo"


class InitError(Exception):
    """Init could not set up the container; the message is runc's."""


class ExecError(InitError):
    """args[0] cannot be executed; the message is runc's, word for word."""


@dataclass(frozen=True)
class InitConfig:
    spec: oci.Spec
    bundle: Path
    state_dir_fd: int  # O_PATH fd of the state dir: exec.fifo stays reachable after pivot
    seccomp_program: bytes | None  # BPF compiled by the parent (seccomp.compile_program)
    console_socket: int | None = None  # with process.terminal: where the pty master goes
    container_id: str = ""  # for the hooks' state
    cgroups_path: str = ""  # the container's cgroup (cgroup v1 binds in a user namespace)
    preserve_fds: int = 0  # runc's --preserve-fds: the caller's fds 3..3+N-1 ...
    preserved_at: int = 0  # ... which init holds from here on, until they become 3..
    no_pivot: bool = False  # runc's --no-pivot: move the rootfs over / and chroot


def run(config: InitConfig, report: Callable[[dict[str, object]], None]) -> NoReturn:
    spec = config.spec
    proc = spec["process"]
    namespaces = spec["linux"].get("namespaces", [])
    types = {ns["type"] for ns in namespaces}
    if "hostname" in spec and "uts" in types:
        sc.sethostname(spec["hostname"])
    if any(ns["type"] == "network" and "path" not in ns for ns in namespaces):
        sc.interface_up("lo")  # runc's loopback strategy for a new network namespace
    rootfs.prepare_rootfs(spec, config.bundle,
                          before_pivot=lambda: _creation_hooks(config, report),
                          cgroups_path=config.cgroups_path, no_pivot=config.no_pivot)
    # runc creates a missing cwd (as root, before the user is switched).
    with contextlib.suppress(OSError):  # a file in the way: chdir says so below
        os.makedirs(proc.get("cwd", "/"), mode=0o755, exist_ok=True)
    if proc.get("terminal") and config.console_socket is not None:
        # Right after pivot_root: /dev/ptmx is now the container's devpts.
        console.setup_in_container(config.console_socket, console_size(proc))
    for key, value in spec["linux"].get("sysctl", {}).items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            _write_proc(path, value)
        except OSError as err:
            raise InitError(f"write {path}: {os.strerror(err.errno or 0).lower()}"
                            ) from None
    rootfs.finalize_rootfs(spec)
    policy = validate.linux_of(spec).get("memoryPolicy")
    if policy is not None:
        try:
            mempolicy.apply(policy)
        except (OSError, ValueError) as err:
            raise InitError(f"error setting memory policy: {err.args[-1]}") from None
    path, env = prepare_process(proc, config.seccomp_program)
    report({"type": "ready"})
    _wait_for_start(config.state_dir_fd)
    try:
        hooks.run(validate.hooks_of(spec), "startContainer",
                  _state(config, "created"))
    except hooks.HookError as err:
        # Nobody waits for init's report any more: say it where the container's
        # errors go, and never exec.
        os.write(2, f"startContainer: {err}\n".encode())
        raise
    for i in range(config.preserve_fds):  # sources sit above every target: no overlap
        os.dup2(config.preserved_at + i, 3 + i, inheritable=True)
    execute(path, proc, env, config.seccomp_program)


def _state(config: InitConfig, status: str) -> hooks.State:
    return hooks.State(id=config.container_id, status=status, bundle=str(config.bundle),
                       pid=os.getpid(), annotations=config.spec.get("annotations") or {})


def _creation_hooks(config: InitConfig, report: Callable[[dict[str, object]], None]
                    ) -> None:
    """Mounts are done, pivot_root is next: the caller's prestart and createRuntime
    hooks, then createContainer here, in the container's namespaces (runc's order)."""
    spec_hooks = validate.hooks_of(config.spec)
    if spec_hooks.get("prestart") or spec_hooks.get("createRuntime"):
        report({"type": "hooks", "ack": True})
    hooks.run(spec_hooks, "createContainer", _state(config, "creating"),
              cwd=rootfs.rootfs_path(config.spec, config.bundle))


def prepare_process(proc: oci.Process, seccomp_program: bytes | None
                    ) -> tuple[str, dict[str, str]]:
    """Everything from rlimits to no_new_privs, shared by init and ``exec``; returns the
    resolved executable and the environment. Must run in the container's mount namespace."""
    _set_limits(proc)
    caps = proc.get("capabilities")
    no_new_privs = proc.get("noNewPrivileges", False)
    if caps is not None:
        capabilities.drop_bounding(caps)
    if seccomp_program is not None and not no_new_privs:
        seccomp.load_program(seccomp_program)
    user = proc.get("user") or {"uid": 0, "gid": 0}
    env = _env(proc.get("env") or [])
    if "HOME" not in env:  # runc: the user's home in the container's /etc/passwd, or /
        env["HOME"] = _home_of(user.get("uid", 0))
    _set_user(user, keep_caps=caps is not None)
    if caps is not None:
        capabilities.apply_sets(caps)

    cwd = proc.get("cwd", "/")
    try:
        os.chdir(cwd)
    except OSError as err:
        raise ExecError(f"chdir to cwd ({cwd!r}) set in config.json failed: "
                        f"{os.strerror(err.errno or 0).lower()}") from None
    path = resolve_executable(proc["args"][0], env.get("PATH", DEFAULT_PATH))
    if no_new_privs:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    if proc.get("terminal"):
        console.take_controlling_terminal()
    return path, env


def execute(path: str, proc: oci.Process, env: dict[str, str],
            seccomp_program: bytes | None) -> NoReturn:
    """The last steps before the user's process: the filter when no_new_privs allows it
    to be this late (then it only has to permit execve), default signals, execve."""
    if seccomp_program is not None and proc.get("noNewPrivileges", False):
        seccomp.load_program(seccomp_program)
    _reset_signals()
    os.execve(path, proc["args"], env)
    raise AssertionError("execve returned")  # pragma: no cover


def console_size(proc: oci.Process) -> tuple[int, int] | None:
    size = proc.get("consoleSize")
    return None if size is None else (size["height"], size["width"])


def resolve_executable(name: str, search_path: str) -> str:
    """Go's ``exec.LookPath`` inside the container, with runc's error words (docker's CLI
    maps "executable file not found"/"no such file or directory" to 127 and "permission
    denied" to 126)."""
    if "/" in name:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            raise ExecError(f'exec: "{name}": stat {name}: no such file or directory') from None
        if stat.S_ISDIR(st.st_mode) or not os.access(name, os.X_OK):
            raise ExecError(f'exec: "{name}": permission denied')
        return name
    for directory in search_path.split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(candidate, os.X_OK):
            return candidate
    raise ExecError(f'exec: "{name}": executable file not found in $PATH')


def _env(entries: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        env[key] = value
    return env


def _home_of(uid: int, passwd: str = "/etc/passwd") -> str:
    try:
        with open(passwd, errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def _write_proc(path: str, value: str | int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def set_rlimits(proc: oci.Process) -> None:
    """Also called by the intermediate child with the caller's credentials, before any
    user namespace (runc sets them from the parent), so a raised hard limit holds."""
    for rlimit in proc.get("rlimits", []):
        number = getattr(resource, rlimit["type"], None)
        if not isinstance(number, int):
            raise ValueError(f"unknown rlimit {rlimit['type']!r}")
        # the spec's uint64 RLIM_INFINITY (2^64-1) is Python's -1
        soft, hard = (resource.RLIM_INFINITY if v >= 1 << 63 else v
                      for v in (rlimit["soft"], rlimit["hard"]))
        try:
            resource.setrlimit(number, (soft, hard))
        except (OSError, ValueError):
            raise InitError(f"error setting rlimits for ready process: error setting "
                            f"rlimit type {number}: operation not permitted") from None


def set_oom_score_adj(value: int) -> None:
    """Set by the intermediate child before any user namespace (where the file is not
    writable); the later calls find it already set."""
    try:
        with open("/proc/self/oom_score_adj") as f:
            if int(f.read()) == value:
                return
    except (OSError, ValueError):
        pass
    try:
        _write_proc("/proc/self/oom_score_adj", value)
    except OSError as err:
        raise InitError(f"write /proc/self/oom_score_adj: "
                        f"{os.strerror(err.errno or 0).lower()}") from None


def _set_limits(proc: oci.Process) -> None:
    set_rlimits(proc)
    if "oomScoreAdj" in proc:
        set_oom_score_adj(proc["oomScoreAdj"])
    os.umask((proc.get("user") or {}).get("umask", 0o022))


def _set_user(user: oci.User, keep_caps: bool) -> None:
    if keep_caps:
        capabilities.keep_across_setuid(True)
    if userns.setgroups_allowed():  # "deny" in a rootless user namespace
        os.setgroups(user.get("additionalGids", []))
    os.setgid(user.get("gid", 0))
    os.setuid(user.get("uid", 0))
    if keep_caps:
        capabilities.keep_across_setuid(False)


def _wait_for_start(state_dir_fd: int) -> None:
    """Block until ``start`` opens exec.fifo for reading (open for write blocks until a
    reader exists), then tell it we are released by writing one byte. The write end
    stays open (close-on-exec) so ``start`` sees EOF only once we exec'd (or died): its
    poststart hooks run after the user's process started, as the runtime-spec says."""
    fd = os.open(EXEC_FIFO, os.O_WRONLY | os.O_CLOEXEC, dir_fd=state_dir_fd)
    os.write(fd, b"0")
    os.close(state_dir_fd)


def _reset_signals() -> None:
    # Python ignores SIGPIPE/SIGXFSZ, the shim ignores SIGHUP, and ignored dispositions
    # survive execve (a shell cannot even trap a signal ignored on entry); the user's
    # process must start with every default and an empty mask, as runc's init does.
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                continue  # signals the kernel reserves (32, 33 for the C library)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
