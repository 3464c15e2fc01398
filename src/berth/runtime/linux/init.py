"""The container's init: everything between the namespaces and ``execve`` (runc's
``standard_init_linux.go``). Runs in child 2 of ``process.spawn_init`` as PID 1 of the new
PID namespace, already inside every namespace of the spec and in the container's cgroup.

Order (each step needs what the previous one gave, or must happen before a privilege is
dropped)::

    sethostname → prepare_rootfs (mounts, devices, pivot_root) → [terminal: pty from the
    container's devpts, master to the console socket] → sysctl → finalize_rootfs
    (readonly/masked paths, ro root) → rlimits, oom_score_adj, umask → drop bounding caps
    → [seccomp if no_new_privs is off: loading needs CAP_SYS_ADMIN] → setgroups/setgid/
    setuid with KEEPCAPS → capset → chdir(cwd) → resolve args[0] on $PATH → no_new_privs
    → [terminal: setsid, TIOCSCTTY] → report "ready" → block on exec.fifo
    → [seccomp if no_new_privs] → execve

From rlimits to the controlling terminal is ``prepare_process``, which ``exec`` shares.
It only reports through ``report`` and never returns: the caller ``os._exit``s.
"""

from __future__ import annotations

import os
import resource
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from berth.oci import spec as oci
from berth.runtime.linux import capabilities, console, rootfs, seccomp
from berth.runtime.linux import syscalls as sc

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EXEC_FIFO = "exec.fifo"


class ExecError(Exception):
    """args[0] cannot be executed; the message is runc's, word for word."""


@dataclass(frozen=True)
class InitConfig:
    spec: oci.Spec
    bundle: Path
    state_dir_fd: int  # O_PATH fd of the state dir: exec.fifo stays reachable after pivot
    seccomp_program: bytes | None  # BPF compiled by the parent (seccomp.compile_program)
    console_socket: int | None = None  # with process.terminal: where the pty master goes


def run(config: InitConfig, report: Callable[[dict[str, object]], None]) -> NoReturn:
    spec = config.spec
    proc = spec["process"]
    namespaces = {ns["type"] for ns in spec["linux"].get("namespaces", [])}
    if "hostname" in spec and "uts" in namespaces:
        sc.sethostname(spec["hostname"])
    rootfs.prepare_rootfs(spec, config.bundle)
    if proc.get("terminal") and config.console_socket is not None:
        # Right after pivot_root: /dev/ptmx is now the container's devpts.
        console.setup_in_container(config.console_socket, console_size(proc))
    for key, value in spec["linux"].get("sysctl", {}).items():
        _write_proc("/proc/sys/" + key.replace(".", "/"), value)
    rootfs.finalize_rootfs(spec)
    path, env = prepare_process(proc, config.seccomp_program)
    report({"type": "ready"})
    _wait_for_start(config.state_dir_fd)
    execute(path, proc, env, config.seccomp_program)


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
    _set_user(proc["user"], keep_caps=caps is not None)
    if caps is not None:
        capabilities.apply_sets(caps)

    try:
        os.chdir(proc["cwd"])
    except OSError as err:
        raise ExecError(f"chdir to cwd ({proc['cwd']!r}) set in config.json failed: "
                        f"{os.strerror(err.errno or 0).lower()}") from None
    env = _env(proc["env"])
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


def _write_proc(path: str, value: str | int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _set_limits(proc: oci.Process) -> None:
    for rlimit in proc.get("rlimits", []):
        number = getattr(resource, rlimit["type"], None)
        if not isinstance(number, int):
            raise ValueError(f"unknown rlimit {rlimit['type']!r}")
        resource.setrlimit(number, (rlimit["soft"], rlimit["hard"]))
    if "oomScoreAdj" in proc:
        _write_proc("/proc/self/oom_score_adj", proc["oomScoreAdj"])
    os.umask(proc["user"].get("umask", 0o022))


def _set_user(user: oci.User, keep_caps: bool) -> None:
    if keep_caps:
        capabilities.keep_across_setuid(True)
    os.setgroups(user.get("additionalGids", []))
    os.setgid(user["gid"])
    os.setuid(user["uid"])
    if keep_caps:
        capabilities.keep_across_setuid(False)


def _wait_for_start(state_dir_fd: int) -> None:
    """Block until ``start`` opens exec.fifo for reading (open for write blocks until a
    reader exists), then tell it we are released by writing one byte."""
    fd = os.open(EXEC_FIFO, os.O_WRONLY | os.O_CLOEXEC, dir_fd=state_dir_fd)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
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
