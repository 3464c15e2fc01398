"""The shim process for one container: set up, create, report, then monitor.

Runs in a child of the zygote (already ``setsid``), single-threaded::

    ignore SIGHUP/SIGPIPE, SIGCHLD wakes the loop, PR_SET_CHILD_SUBREAPER
    stdio → /dev/null and state_dir/shim.log; write shim.pid
    unshare(CLONE_NEWNS), make / rprivate         the rootfs mount lives only here, so it
    mount rootfs_mounts at bundle/rootfs          vanishes with the shim and cannot leak
    (crun) detach /sys/fs/cgroup/unified          crun 1.8 refuses a hybrid layout
    allocate stdio: pipes, or a pty               the runtime gets the container's ends
    claim the id (claim.py: waits for a previous shim's delete)
    runtime.create → init pid; write init.pid
    detach <exec-root>/netns                      its copies of the netns binds (below)
    bind shim.sock and attach.sock                at short paths (runtime/sockets.py)
    report {"shim_pid", "init_pid"} | {"shim_pid", "error"} on the spawner's connection
    Monitor.run() until the container exited and drained; runtime.delete, release claim
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from berth.errors import BerthError
from berth.oci.mount import Mount
from berth.runtime import ContainerRuntime, idmap
from berth.runtime.linux import syscalls
from berth.runtime.oci_cli import OciCliRuntime
from berth.runtime.shim import ShimOptions
from berth.runtime.shim.claim import Claim, acquire
from berth.runtime.shim.jsonlog import JsonFileLog, rotation
from berth.runtime.shim.monitor import ContainerIO, Monitor, Sockets
from berth.runtime.shim.protocol import (
    ATTACH_SOCKET,
    CONTROL_SOCKET,
    EXIT_FILE,
    INIT_PID,
    SHIM_LOG,
    SHIM_PID,
    encode_line,
    write_atomic,
)
from berth.runtime.shim.runtimes import ConsoleRuntime, ContainerCgroup, open_runtime
from berth.runtime.shim.streams import open_stdio
from berth.runtime.sockets import make_dir, socket_path

# Where berthd binds each container's network namespace (<exec-root>/netns/<id>, made a
# mount point of its own: docs/design/networking.md).
NETNS_DIR = "netns"

log = logging.getLogger(__name__)

_FLAGS: dict[str, tuple[int, bool]] = {  # option → (flag, set it)
    "ro": (syscalls.MS_RDONLY, True), "rw": (syscalls.MS_RDONLY, False),
    "nosuid": (syscalls.MS_NOSUID, True), "nodev": (syscalls.MS_NODEV, True),
    "noexec": (syscalls.MS_NOEXEC, True), "noatime": (syscalls.MS_NOATIME, True),
    "relatime": (syscalls.MS_RELATIME, True), "bind": (syscalls.MS_BIND, True),
    "rbind": (syscalls.MS_BIND | syscalls.MS_REC, True),
}


def run_shim(opts: ShimOptions, report: socket.socket) -> int:
    """Be the shim for ``opts``; return the shim's exit code (the container's, or 1)."""
    _detach(opts.state_dir)
    try:
        claim, init_pid, io = _setup(opts)
    except (BerthError, OSError) as err:
        message = err.message if isinstance(err, BerthError) else f"shim: {err}"
        log.error("create failed: %s", message)
        _report(report, {"shim_pid": os.getpid(), "error": message})
        return 1
    json_log = None if opts.log_path is None else JsonFileLog(
        opts.log_path, rotation(dict(opts.log_options)))
    control = _listen(socket_path(opts.state_dir, CONTROL_SOCKET))
    attach = _listen(socket_path(opts.state_dir, ATTACH_SOCKET))
    cgroup = ContainerCgroup(_cgroups_path(opts.bundle))
    monitor = Monitor(claim, init_pid, io, Sockets(control, attach), json_log, cgroup,
                      opts.state_dir, opts.stdin_once)
    _report(report, {"shim_pid": os.getpid(), "init_pid": init_pid})
    try:
        return monitor.run()
    finally:
        monitor.retire()
        control.close()


def _detach(state_dir: Path) -> None:
    """Become independent of berthd: signals, stdio, subreaper, shim.pid."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes the loop via wakeup fd
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    Path("/proc/self/comm").write_text("berth-shim")  # what ps -o comm and top show
    state_dir.mkdir(parents=True, exist_ok=True)
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(state_dir / SHIM_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s shim[{os.getpid()}] %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    (state_dir / EXIT_FILE).unlink(missing_ok=True)
    write_atomic(state_dir / SHIM_PID, str(os.getpid()).encode())


def _setup(opts: ShimOptions) -> tuple[Claim, int, ContainerIO]:
    exec_root = opts.state_dir.parent.parent
    runtime = open_runtime(opts.runtime, exec_root)
    claim = acquire(exec_root, opts.container_id, opts.runtime, runtime)
    try:
        syscalls.unshare(syscalls.CLONE_NEWNS)
        syscalls.mount("none", "/", "", syscalls.MS_REC | syscalls.MS_PRIVATE)
        rootfs = opts.bundle / "rootfs"
        rootfs.mkdir(exist_ok=True)
        maps = idmap.rootfs_maps(json.loads((opts.bundle / "config.json").read_bytes()))
        for mount in opts.rootfs_mounts:
            if maps is None:
                _mount(mount, str(rootfs))
            else:  # --userns-remap: the layers idmapped for the container's root
                idmap.mount(idmap.with_maps(mount, maps), str(rootfs), opts.bundle / "idmap")
        if isinstance(runtime, OciCliRuntime) and runtime.name == "crun":
            _hide_cgroup2()
        init_pid, io = _create(opts, runtime)
        _drop_netns_mounts(exec_root / NETNS_DIR)
    except BaseException:
        claim.delete()  # nothing of a failed create may outlive the shim
        raise
    write_atomic(opts.state_dir / INIT_PID, str(init_pid).encode())
    return claim, init_pid, io


def _create(opts: ShimOptions, runtime: ContainerRuntime) -> tuple[int, ContainerIO]:
    """Create the container with its stdio; return its init pid and the shim's ends."""
    cid, bundle = opts.container_id, opts.bundle
    with_console = None
    if isinstance(runtime, ConsoleRuntime):
        console_runtime = runtime

        def with_console() -> tuple[int, int]:
            return console_runtime.create_with_console(cid, bundle)
    return open_stdio(opts.tty, opts.open_stdin,
                      lambda stdio: runtime.create(cid, bundle, stdio), with_console)


def _mount(mount: Mount, target: str) -> None:
    flags, data = 0, []
    for option in mount.options:
        if option in _FLAGS:
            flag, on = _FLAGS[option]
            flags = flags | flag if on else flags & ~flag
        else:
            data.append(option)
    fstype = "" if flags & syscalls.MS_BIND else mount.type
    syscalls.mount(mount.source, target, fstype, flags, ",".join(data))
    if flags & syscalls.MS_BIND and flags & syscalls.MS_RDONLY:  # bind ignores ro at first
        syscalls.mount("none", target, "", flags | syscalls.MS_REMOUNT)


def _drop_netns_mounts(netns_dir: Path) -> None:
    """Let go of the network namespaces berthd binds under the exec root: this shim's
    mount namespace copied every one of them, and a copy would keep a removed
    container's namespace alive for as long as this shim runs. The container has joined
    its own by now (exec joins through /proc/<pid>/ns)."""
    try:  # a bind of the directory onto itself (netns.prepare_dir), which ismount misses
        syscalls.umount2(str(netns_dir), syscalls.MNT_DETACH)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOENT):  # not a mount point: no netns
            raise


def _hide_cgroup2() -> None:
    try:
        syscalls.umount2("/sys/fs/cgroup/unified", syscalls.MNT_DETACH)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOENT):
            raise


def _cgroups_path(bundle: Path) -> str:
    spec = json.loads((bundle / "config.json").read_bytes())
    return str(spec.get("linux", {}).get("cgroupsPath", ""))


def _listen(path: Path) -> socket.socket:
    make_dir()
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.bind(str(path))
    sock.listen(64)
    return sock


def _report(report: socket.socket, message: dict[str, object]) -> None:
    try:
        report.sendall(encode_line(message))
    except OSError as err:  # the spawner went away; the container still runs
        log.warning("reporting to the spawner failed: %s", err)
    report.close()
