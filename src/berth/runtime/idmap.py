"""Idmapped rootfs mounts for user-namespaced containers (``berthd --userns-remap``).

The engine asks for one by adding containerd 2's options to a rootfs mount:
``uidmap=C:H:N[,C:H:N...]`` and ``gidmap=...`` (container id, host id, size). The shim
then mounts it here instead of with a plain mount(2)::

    a user namespace with those maps (a forked child that unshared CLONE_NEWUSER; its
    /proc/<pid>/ns/user is kept as an fd, the child exits)
    for each layer directory (lowerdirs; the common parent of upperdir and workdir,
    which overlayfs wants on one mount):
        open_tree(OPEN_TREE_CLONE) ─ mount_setattr(MOUNT_ATTR_IDMAP, userns fd)
        ─ move_mount to <scratch>/<n>                    (Linux 5.12)
    overlay lowerdir=0:1:...,upperdir=u/fs,workdir=u/work  relative to <scratch>
                                                            (idmapped layers: 5.19)

The overlay mount itself cannot be idmapped (EINVAL), its layers can. Files stay on disk
with the container's ids (root's files are uid 0), so diff, commit, cp and export read
the layers unchanged; through the mounts the container's root sees them as its own, and
what it creates is written back as uid 0. All of this happens in the shim's private mount
namespace and goes with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from berth.errors import BerthError
from berth.oci.mount import Mount
from berth.runtime.linux import syscalls

UIDMAP = "uidmap="
GIDMAP = "gidmap="

_SYS_OPEN_TREE = 428  # the same number on every architecture (the new syscall table)
_SYS_MOVE_MOUNT = 429
_SYS_MOUNT_SETATTR = 442
_OPEN_TREE_CLONE = 1
_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOUNT_ATTR_IDMAP = 0x00100000


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def is_idmapped(mount: Mount) -> bool:
    return any(o.startswith((UIDMAP, GIDMAP)) for o in mount.options)


def kernel_map(option: str) -> bytes:
    """``0:100000:65536,...`` as /proc/<pid>/uid_map wants it (one line a range)."""
    lines = []
    for item in option.split(","):
        parts = item.split(":")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise BerthError(f"invalid id mapping {option!r}: container:host:size")
        lines.append(" ".join(parts) + "\n")
    return "".join(lines).encode()


def mount(mount: Mount, target: str, scratch: Path) -> None:
    """Mount ``mount`` (an overlay or a bind with uidmap=/gidmap= options) at ``target``
    through idmapped layer mounts under ``scratch`` (made here)."""
    uid_map = next((o[len(UIDMAP):] for o in mount.options if o.startswith(UIDMAP)), "")
    gid_map = next((o[len(GIDMAP):] for o in mount.options if o.startswith(GIDMAP)), "")
    if not uid_map or not gid_map:
        raise BerthError("an idmapped mount needs both uidmap= and gidmap=")
    rest = [o for o in mount.options if not o.startswith((UIDMAP, GIDMAP))]
    scratch.mkdir(mode=0o700, exist_ok=True)
    ns = userns_fd(kernel_map(uid_map), kernel_map(gid_map))
    try:
        if mount.type == "overlay":
            _overlay(rest, target, scratch, ns, (_root(uid_map), _root(gid_map)))
        elif mount.type == "bind":
            _idmapped_bind(mount.source, target, ns)
            if "ro" in rest:
                syscalls.mount("none", target, "", syscalls.MS_BIND | syscalls.MS_REMOUNT
                               | syscalls.MS_RDONLY)
        else:
            raise BerthError(f"cannot idmap a {mount.type} mount")
    finally:
        os.close(ns)


def _root(option: str) -> int:
    """The host id of the container's 0 in ``option``."""
    for item in option.split(","):
        inside, host, _ = item.split(":")
        if inside == "0":
            return int(host)
    raise BerthError(f"id mapping {option!r} does not map the container's root")


def _overlay(options: list[str], target: str, scratch: Path, ns: int,
             root: tuple[int, int]) -> None:
    data: list[str] = []
    upper = next((o.split("=", 1)[1] for o in options if o.startswith("upperdir=")), "")
    work = next((o.split("=", 1)[1] for o in options if o.startswith("workdir=")), "")
    if upper and work:
        base = os.path.commonpath([upper, work])
        _idmapped_bind(base, str(_point(scratch, "u")), ns)
        data += [f"upperdir=u/{os.path.relpath(upper, base)}",
                 f"workdir=u/{os.path.relpath(work, base)}"]
    for option in options:
        if option.startswith("lowerdir="):
            names = []
            for n, lower in enumerate(option[len("lowerdir="):].split(":")):
                _idmapped_bind(lower, str(_point(scratch, str(n))), ns)
                names.append(str(n))
            data.insert(0, "lowerdir=" + ":".join(names))
        elif not option.startswith(("upperdir=", "workdir=")):
            data.append(option)
    # Relative layer paths (resolved against the cwd by overlayfs) keep the option
    # string as short as the layers are many; the shim is single-threaded.
    cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.chdir(scratch)
        with _as_mapped_root(*root):
            syscalls.mount("overlay", target, "overlay", 0, ",".join(data))
    finally:
        os.fchdir(cwd)
        os.close(cwd)


@contextlib.contextmanager
def _as_mapped_root(uid: int, gid: int) -> Iterator[None]:
    """Mount as the container's root on the host (fsuid/fsgid), with every capability
    kept: overlayfs does each later upper-layer change (work dir, copy-up, whiteouts) with
    its mounter's credentials, and through an idmapped upper layer only ids the mapping
    knows can own a file (host root's would be EOVERFLOW)."""
    caps = syscalls.capget(0)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.setfsgid(gid)
    libc.setfsuid(uid)
    syscalls.capset(*caps)  # a non-zero fsuid drops the file capabilities from effective
    try:
        yield
    finally:
        libc.setfsuid(0)
        libc.setfsgid(0)
        syscalls.capset(*caps)


def _point(scratch: Path, name: str) -> Path:
    path = scratch / name
    path.mkdir(exist_ok=True)
    return path


def _idmapped_bind(source: str, target: str, ns: int) -> None:
    fd = _syscall(_SYS_OPEN_TREE, ctypes.c_int(_AT_FDCWD), source.encode(),
                  ctypes.c_uint(_OPEN_TREE_CLONE | os.O_CLOEXEC))
    try:
        attr = _MountAttr(attr_set=_MOUNT_ATTR_IDMAP, userns_fd=ns)
        try:
            _syscall(_SYS_MOUNT_SETATTR, ctypes.c_int(fd), b"",
                     ctypes.c_uint(_AT_EMPTY_PATH), ctypes.byref(attr),
                     ctypes.c_size_t(ctypes.sizeof(attr)))
        except OSError as err:
            raise BerthError(
                f"idmapped mount of {source} failed ({err.strerror}): --userns-remap needs "
                "a kernel with idmapped mounts (Linux 5.12+, overlayfs layers 5.19+) on "
                "the data root's filesystem") from err
        _syscall(_SYS_MOVE_MOUNT, ctypes.c_int(fd), b"", ctypes.c_int(_AT_FDCWD),
                 target.encode(), ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH))
    finally:
        os.close(fd)


def userns_fd(uid_map: bytes, gid_map: bytes) -> int:
    """An fd of a new user namespace with these maps: a child unshares CLONE_NEWUSER,
    the caller (in the parent namespace) writes its maps and opens its ns file."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    done_r, done_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(ready_r)
            os.close(done_w)
            syscalls.unshare(syscalls.CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(done_r, 1)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise BerthError("idmapped mount: the user namespace child failed")
        _write(f"/proc/{pid}/uid_map", uid_map)
        _write(f"/proc/{pid}/gid_map", gid_map)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)  # the child's read returns: it exits
        os.waitpid(pid, 0)


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _syscall(number: int, *args: object) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = int(libc.syscall(ctypes.c_long(number), *args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def supported(directory: Path) -> str:
    """"" if ``directory``'s filesystem takes an idmapped mount, else why not (probed with
    a detached clone that is never attached)."""
    try:
        ns = userns_fd(b"0 100000 1\n", b"0 100000 1\n")
    except OSError as err:
        return f"no user namespaces: {err.strerror}"
    try:
        fd = _syscall(_SYS_OPEN_TREE, ctypes.c_int(_AT_FDCWD), str(directory).encode(),
                      ctypes.c_uint(_OPEN_TREE_CLONE | os.O_CLOEXEC))
    except OSError as err:
        os.close(ns)
        return "no open_tree (Linux 5.2+)" if err.errno == errno.ENOSYS else str(err)
    try:
        attr = _MountAttr(attr_set=_MOUNT_ATTR_IDMAP, userns_fd=ns)
        _syscall(_SYS_MOUNT_SETATTR, ctypes.c_int(fd), b"", ctypes.c_uint(_AT_EMPTY_PATH),
                 ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    except OSError as err:
        return (f"no idmapped mounts of {directory} ({err.strerror}; Linux 5.12+ and a "
                "filesystem that supports them)")
    finally:
        os.close(fd)
        os.close(ns)
    return ""


def rootfs_maps(spec: dict[str, object]) -> tuple[str, str] | None:
    """The uidmap=/gidmap= options for the rootfs of a bundle whose spec has a user
    namespace with maps (berthd's --userns-remap); None for any other spec."""
    linux = spec.get("linux")
    if not isinstance(linux, dict):
        return None
    namespaces = linux.get("namespaces") or []
    if not any(n.get("type") == "user" for n in namespaces):
        return None
    uids, gids = linux.get("uidMappings") or [], linux.get("gidMappings") or []
    if not uids or not gids:
        return None

    def option(maps: list[dict[str, int]]) -> str:
        return ",".join(f"{m['containerID']}:{m['hostID']}:{m['size']}" for m in maps)
    return UIDMAP + option(uids), GIDMAP + option(gids)


def with_maps(mount: Mount, maps: tuple[str, str]) -> Mount:
    return Mount(mount.type, mount.source, (*mount.options, *maps), mount.target)


def hold_userns(path: Path, uid_map: bytes, gid_map: bytes) -> None:
    """A new user namespace with these maps, kept alive by a bind of its nsfs file at
    ``path`` (as a named netns is): a container joins it by path, and berthd makes the
    container's network namespace inside it first (net/netns.py), so the namespace is the
    container's own and an exec, which joins the user namespace first, may join it."""
    path.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o444)
    os.close(fd)
    ns = userns_fd(uid_map, gid_map)
    try:
        syscalls.mount(f"/proc/self/fd/{ns}", str(path), "", syscalls.MS_BIND)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    finally:
        os.close(ns)


def release_userns(path: Path) -> None:
    """Undo ``hold_userns``; idempotent."""
    try:
        syscalls.umount2(str(path), syscalls.MNT_DETACH)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    path.unlink(missing_ok=True)
