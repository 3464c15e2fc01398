"""Named network namespaces: a netns kept alive by a bind mount of its nsfs file at a path,
as ``ip netns add`` and podman do, so it outlives every process in it and any runtime can
join it by path (``linux.namespaces[].path`` in the OCI spec).

Making one costs no process and no fork. A short-lived thread does the work, because
``unshare(CLONE_NEWNET)`` and ``setns`` act on the calling *thread* only (Linux tasks are
threads), and a thread that dies takes any namespace it failed to leave with it::

    caller ──start──▶ helper thread: unshare(CLONE_NEWNET)      (only this thread moves)
                                    bring lo up (an ioctl)
                                    mount --bind /proc/thread-self/ns/net <path>
                                    exit                        (the bind keeps the netns)
    caller ◀──join──┘

``entered(path)`` moves the calling thread in and back for code that must open sockets
inside (pyroute2's netlink socket, the DNS server's sockets): a socket stays bound to the
netns it was made in after the thread leaves.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from berth.errors import BerthError

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2
NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3)
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class NetnsError(BerthError):
    """A network namespace could not be made, entered or left."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


def prepare_dir(path: Path | str) -> None:
    """Make ``path`` (where the netns binds live) a mount point of its own, bound onto
    itself, as ``ip netns`` does with /run/netns: a process that copied this mount
    namespace (a shim) can then drop every copy of the binds with one detach of the
    directory, instead of keeping each container's netns alive until it exits."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if _mount_point(path):
        return
    raw = os.fsencode(path)
    _check(_libc.mount(raw, raw, None, MS_BIND, None), f"binding {path} onto itself")


def _mount_point(path: Path) -> bool:
    """Whether ``path`` is a mount point (mountinfo's fifth field, octal escapes as the
    kernel writes them); ``os.path.ismount`` misses a bind of a directory onto itself."""
    escaped = str(path.resolve()).replace("\\", "\\134").replace(" ", "\\040") \
        .replace("\t", "\\011").replace("\n", "\\012")
    with open("/proc/self/mountinfo") as f:
        return any(line.split(" ", 5)[4] == escaped for line in f)


def create(path: Path | str, owner: Path | str = "") -> None:
    """Make a new netns bound at ``path`` with ``lo`` up; on failure leave nothing.
    ``owner``: the bound user namespace the netns is to belong to (berthd
    --userns-remap: docs/design/userns.md)."""
    path = Path(path)
    if owner:
        _create_owned(path, str(owner))
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
        os.close(fd)
    except OSError as err:
        raise NetnsError(f"creating network namespace {path}: {err.strerror}") from err
    failure: list[BaseException] = []

    def work() -> None:
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare")
            _loopback_up()
            source = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
            _check(_libc.mount(source, os.fsencode(path), None, MS_BIND, None), "mount")
        except BaseException as err:  # handed to the caller below
            failure.append(err)

    helper = threading.Thread(target=work, name="berth-netns-create")
    helper.start()
    helper.join()
    if failure:
        remove(path)
        cause = failure[0]
        detail = cause.strerror if isinstance(cause, OSError) else str(cause)
        raise NetnsError(f"creating network namespace {path}: {detail}") from cause


def _create_owned(path: Path, owner: str) -> None:
    """A netns owned by the user namespace bound at ``owner``: setns into a user
    namespace needs a single-threaded caller, so a forked child joins it, unshares the
    netns and brings lo up; the caller binds the child's netns at ``path``."""
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
        user = os.open(owner, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        path.unlink(missing_ok=True)
        raise NetnsError(f"creating network namespace {path}: {err.strerror}") from err
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    done_r, done_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = b"e"
        try:
            os.close(ready_r)
            os.close(done_w)  # else its own read below would never see EOF
            _check(_libc.setns(user, 0x10000000), "setns")  # CLONE_NEWUSER
            _check(_libc.unshare(CLONE_NEWNET), "unshare")
            _loopback_up()
            status = b"1"
        except BaseException:  # reported as "e" below
            status = b"e"
        try:
            os.write(ready_w, status)
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(user)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise NetnsError(f"creating network namespace {path} in {owner}: failed")
        _check(_libc.mount(f"/proc/{pid}/ns/net".encode(), os.fsencode(path), None,
                           MS_BIND, None), "mount")
    except BaseException as err:
        remove(path)
        if isinstance(err, OSError):
            raise NetnsError(f"creating network namespace {path}: {err.strerror}") from err
        raise
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def _loopback_up() -> None:
    """``ip link set lo up`` in the calling thread's netns, by ioctl: no netlink needed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def remove(path: Path | str) -> None:
    """Detach the bind (lazily: a process still in the netns keeps it) and unlink
    ``path``. Idempotent."""
    raw = os.fsencode(Path(path))
    if _libc.umount2(raw, MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):  # not a mount point / absent
            raise NetnsError(f"unmounting network namespace {path}: {os.strerror(code)}")
    try:
        os.unlink(raw)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise NetnsError(f"removing network namespace {path}: {err.strerror}") from err


def is_netns(path: Path | str) -> bool:
    """Whether ``path`` is a bound network namespace (an nsfs file of type net)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError:  # ENOTTY: a plain file, not an nsfs one
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def entered(path: Path | str) -> Iterator[None]:
    """Run the block with the *calling thread* in the netns at ``path``; the thread is put
    back where it was on exit, even on error."""
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise NetnsError(f"opening network namespace {path}: {err.strerror}") from err
    try:
        own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net",
                      os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(target)
        raise
    try:
        try:
            _setns(target)
        except OSError as err:
            raise NetnsError(f"entering network namespace {path}: {err.strerror}") from err
        try:
            yield
        finally:
            _setns(own)  # failing here would leave the thread astray: let OSError fly
    finally:
        os.close(target)
        os.close(own)
