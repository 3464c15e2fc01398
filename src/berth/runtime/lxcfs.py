"""The one lxcfs process of a berthd: the host side of the containers' /proc view
(docs/design/procview.md). lxcfs is the tool here (argv lists, never a shell).

    <exec-root>/lxcfs/       its FUSE mount: proc/meminfo, proc/cpuinfo, proc/stat, ...
                             as the cgroups of the process reading them limit it
    <exec-root>/lxcfs.pid    its pid (lxcfs -p)
    <exec-root>/lxcfs.dev    the mount's device (major:minor): finds the containers that
                             still bind its files when it is gone
    <exec-root>/lxcfs.log    what it prints

    ensure()   at berthd's start and before each container start: a live lxcfs (pid alive,
               its command line naming our mount point, meminfo readable) is reused; else
               what a dead one left is cleared (our pid killed, the mount detached), a new
               one started, and its files bound again in each container that bound the old
               ones (a FUSE file whose daemon is gone reads ENOTCONN: pouch's remount-lxcfs)
    stop()     at berthd's shutdown: only when no container binds its files any more;
               containers outlive berthd, as their shims do, so while one runs lxcfs keeps
               running for it and the next berthd reuses it

A container's binds are injected into its mount namespace by a helper process (setns needs
a single thread; berthd never forks): ``python -m berth.runtime.lxcfs PID MOUNTPOINT
PATH...``. The files are cloned as detached mounts (open_tree) before the setns and
attached over the stale ones (move_mount), since a bind's source must be in the caller's
namespace. Everything here blocks; the engine calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from berth.errors import RuntimeFailure

log = logging.getLogger(__name__)

# What lxcfs virtualises and the container sees in their place (as LXD's and podman's
# lxcfs setups bind them). --enable-cfs: cpuinfo, stat and cpu/online follow the CFS
# quota (--cpus), not only the cpuset; -l: loadavg per container.
FILES: tuple[str, ...] = (
    "proc/cpuinfo", "proc/diskstats", "proc/loadavg", "proc/meminfo", "proc/stat",
    "proc/swaps", "proc/uptime", "sys/devices/system/cpu/online",
)
OPTIONS: tuple[str, ...] = ("--enable-cfs", "--enable-pidfd", "--enable-loadavg")
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class LxcfsPaths:
    exec_root: Path

    @property
    def mountpoint(self) -> Path:
        return self.exec_root / "lxcfs"

    @property
    def pidfile(self) -> Path:
        return self.exec_root / "lxcfs.pid"

    @property
    def devfile(self) -> Path:
        return self.exec_root / "lxcfs.dev"

    @property
    def logfile(self) -> Path:
        return self.exec_root / "lxcfs.log"


def find_binary() -> str | None:
    """lxcfs on $PATH (Debian's ``lxcfs`` package), or None."""
    return shutil.which("lxcfs")


def version(binary: str) -> str:
    """``lxcfs --version``: "5.0.3"."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RuntimeFailure(f"cannot run {binary}: {err}") from err
    return (done.stdout or done.stderr).strip().strip('"')


class Lxcfs:
    """berthd's lxcfs under ``exec_root`` (see the module's docstring)."""

    def __init__(self, exec_root: Path, binary: str) -> None:
        self.paths = LxcfsPaths(exec_root)
        self.binary = binary
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def mountpoint(self) -> Path:
        return self.paths.mountpoint

    def ensure(self) -> None:
        """A working lxcfs at the mount point, reused or (re)started. RuntimeFailure if
        lxcfs cannot start."""
        with self._lock:
            if self._working():
                return
            stale = self._recorded_dev()
            self._clear()
            self._start()
            if stale:
                self._rebind(stale)

    def stop(self) -> bool:
        """Stop lxcfs and remove its mount, unless a container still binds its files
        (then it keeps running for it). Whether it stopped."""
        with self._lock:
            dev = self._recorded_dev()
            users = namespace_users(dev, self.mountpoint) if dev else {}
            if users:
                log.info("lxcfs keeps running for %d container(s) still using it",
                         len(users))
                return False
            self._clear()
            self.paths.devfile.unlink(missing_ok=True)
            return True

    # ── the process ──────────────────────────────────────────────────────────────────

    def _pid(self) -> int | None:
        """The recorded pid if that process is alive and is our lxcfs."""
        try:
            pid = int(self.paths.pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        if state in ("Z", "X") or str(self.mountpoint).encode() not in cmdline:
            return None
        return pid

    def _working(self) -> bool:
        if self._pid() is None or _mount_dev(self.mountpoint) is None:
            return False
        try:
            with open(self.mountpoint / "proc/meminfo", "rb") as f:
                return f.read(64).startswith(b"MemTotal:")
        except OSError:
            return False

    def _start(self) -> None:
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        argv = [self.binary, "--foreground", *OPTIONS, "--pidfile", str(self.paths.pidfile),
                str(self.mountpoint)]
        with open(self.paths.logfile, "ab") as out:
            try:
                # its own session: a ^C to berthd's terminal is not lxcfs's; it outlives
                # berthd while containers use it
                self._child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                               stderr=subprocess.STDOUT,
                                               start_new_session=True)
            except OSError as err:
                raise RuntimeFailure(f"cannot start lxcfs: {err}") from err
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._child.poll() is not None:
                break
            if self._working():
                dev = _mount_dev(self.mountpoint)
                assert dev is not None
                self.paths.devfile.write_text(dev + "\n")
                log.info("lxcfs %s serving the /proc view at %s (pid %d)",
                         version(self.binary), self.mountpoint, self._child.pid)
                return
            time.sleep(0.05)
        self._clear()
        tail = self.paths.logfile.read_text(errors="replace")[-400:].strip()
        raise RuntimeFailure(f"lxcfs did not start at {self.mountpoint}: {tail}")

    def _clear(self) -> None:
        """Stop our lxcfs if it runs (SIGTERM: it unmounts itself) and detach what is
        left of its mount."""
        pid = self._pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + _STOP_TIMEOUT
            while self._pid() is not None and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.05)
            if self._pid() is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._reap(wait=True)
        while _mount_dev(self.mountpoint) is not None:
            from berth.runtime.host import unmount

            unmount(str(self.mountpoint))
        self.paths.pidfile.unlink(missing_ok=True)

    def _reap(self, wait: bool = False) -> None:
        if self._child is not None:
            if wait:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._child.wait(_STOP_TIMEOUT)
            if self._child.poll() is not None:
                self._child = None

    def _recorded_dev(self) -> str:
        try:
            return self.paths.devfile.read_text().strip()
        except OSError:
            return ""

    # ── containers binding its files ─────────────────────────────────────────────────

    def _rebind(self, stale_dev: str) -> None:
        """Bind the new lxcfs's files over the dead one's in each mount namespace that
        still has them (a container started before lxcfs died)."""
        for pid, targets in namespace_users(stale_dev, self.mountpoint).items():
            argv = [sys.executable, "-m", "berth.runtime.lxcfs", str(pid),
                    str(self.mountpoint), *targets]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                  check=False)
            if done.returncode != 0:
                log.warning("cannot bind lxcfs's files again in the mount namespace of "
                            "pid %d: %s", pid, done.stderr.strip()[-300:])
            else:
                log.info("lxcfs's files bound again for pid %d (%s)", pid,
                         ", ".join(targets))


def _mountinfo_fields(line: str) -> tuple[str, str, str]:
    """(major:minor, mount point, filesystem type) of one mountinfo line."""
    head, _, tail = line.partition(" - ")
    fields = head.split()
    return fields[2], fields[4], tail.split(" ", 1)[0]


def _mount_dev(path: Path) -> str | None:
    """The device of the lxcfs mount at ``path`` in this namespace, or None."""
    escaped = str(path).replace("\\", "\\134").replace(" ", "\\040")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            dev, point, fstype = _mountinfo_fields(line)
            if point == escaped and fstype == "fuse.lxcfs":
                return dev
    return None


def namespace_users(dev: str, mountpoint: Path) -> dict[int, list[str]]:
    """One pid per mount namespace that has lxcfs mounts of device ``dev`` anywhere but
    at ``mountpoint`` itself, with those mount points (the files a container binds)."""
    seen: set[int] = set()
    users: dict[int, list[str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ns = os.stat(f"/proc/{entry.name}/ns/mnt").st_ino
            if ns in seen:
                continue
            seen.add(ns)
            with open(f"/proc/{entry.name}/mountinfo") as f:
                lines = f.readlines()
        except OSError:
            continue  # gone meanwhile, or a kernel thread
        targets = []
        for line in lines:
            d, point, fstype = _mountinfo_fields(line)
            if d == dev and fstype == "fuse.lxcfs" and point != str(mountpoint):
                targets.append(point)
        if targets:
            users[int(entry.name)] = targets
    return users


# ── the helper that binds files in another mount namespace ───────────────────────────

_SYS_OPEN_TREE = 428  # the same number on every architecture (new syscall table)
_SYS_MOVE_MOUNT = 429
_SYS_MOUNT_SETATTR = 442
_OPEN_TREE_CLONE = 1
_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOUNT_ATTR_RDONLY_NOSUID_NODEV_NOEXEC = 0x1 | 0x2 | 0x4 | 0x8


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _syscall(number: int, *args: object) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = int(libc.syscall(ctypes.c_long(number), *args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _detached_bind(source: str) -> int:
    """A read-only detached bind mount of ``source`` (an fd), attachable anywhere."""
    fd = _syscall(_SYS_OPEN_TREE, ctypes.c_int(_AT_FDCWD), source.encode(),
                  ctypes.c_uint(_OPEN_TREE_CLONE | os.O_CLOEXEC))
    attr = _MountAttr(attr_set=_MOUNT_ATTR_RDONLY_NOSUID_NODEV_NOEXEC)
    _syscall(_SYS_MOUNT_SETATTR, ctypes.c_int(fd), b"", ctypes.c_uint(_AT_EMPTY_PATH),
             ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    return fd


def _bind_in_namespace(pid: int, mountpoint: str, targets: list[str]) -> None:
    """Over each of ``targets`` in ``pid``'s mount namespace, the lxcfs file of the
    same path under ``mountpoint`` (the stale mount there detached first)."""
    from berth.runtime.linux import syscalls

    known = {"/" + rel: rel for rel in FILES}
    trees = {t: _detached_bind(f"{mountpoint}/{known[t]}") for t in targets if t in known}
    ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    syscalls.setns(ns, syscalls.CLONE_NEWNS)
    for target, fd in trees.items():
        with contextlib.suppress(OSError):
            syscalls.umount2(target, syscalls.MNT_DETACH)
        _syscall(_SYS_MOVE_MOUNT, ctypes.c_int(fd), b"", ctypes.c_int(_AT_FDCWD),
                 target.encode(), ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH))


if __name__ == "__main__":
    _bind_in_namespace(int(sys.argv[1]), sys.argv[2], sys.argv[3:])
