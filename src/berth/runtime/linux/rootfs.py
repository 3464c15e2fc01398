"""Build the container's mount tree and pivot into it (runc's ``rootfs_linux.go``).

Runs in the container's init, already inside its own mount namespace. Two phases, because
sysctls must be written between them (they need ``/proc/sys`` still writable)::

    prepare_rootfs   make / rslave (or linux.rootfsPropagation) and the rootfs's parent
                     mount private → bind root.path on itself → spec mounts in order
                     → device nodes (bind mounts of the host's in a user namespace, where
                     mknod is refused) and /dev symlinks → [before_pivot: hooks]
                     → pivot_root(".", ".") → detach old root
    finalize_rootfs  readonly paths → masked paths → readonly root

Every destination is resolved with ``secure_join`` so an image's symlinks cannot point a
mount at a host path, and mounted through an O_PATH descriptor checked to still be that
path (``_checked``), so a link swapped in meanwhile cannot either.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from berth.oci import spec as oci
from berth.runtime.linux import syscalls as sc
from berth.runtime.linux import userns, validate
from berth.runtime.linux.securejoin import secure_join


class RootfsError(Exception):
    """A mount or device could not be set up; the message is runc's."""


# option → (flags to set, flags to clear); anything else is passed to the filesystem as data.
_MOUNT_FLAGS: dict[str, tuple[int, int]] = {
    "ro": (sc.MS_RDONLY, 0), "rw": (0, sc.MS_RDONLY),
    "nosuid": (sc.MS_NOSUID, 0), "suid": (0, sc.MS_NOSUID),
    "nodev": (sc.MS_NODEV, 0), "dev": (0, sc.MS_NODEV),
    "noexec": (sc.MS_NOEXEC, 0), "exec": (0, sc.MS_NOEXEC),
    "sync": (sc.MS_SYNCHRONOUS, 0), "async": (0, sc.MS_SYNCHRONOUS),
    "dirsync": (sc.MS_DIRSYNC, 0), "remount": (sc.MS_REMOUNT, 0),
    "mand": (sc.MS_MANDLOCK, 0), "nomand": (0, sc.MS_MANDLOCK),
    "atime": (0, sc.MS_NOATIME), "noatime": (sc.MS_NOATIME, 0),
    "diratime": (0, sc.MS_NODIRATIME), "nodiratime": (sc.MS_NODIRATIME, 0),
    "relatime": (sc.MS_RELATIME, 0), "norelatime": (0, sc.MS_RELATIME),
    "strictatime": (sc.MS_STRICTATIME, 0), "nostrictatime": (0, sc.MS_STRICTATIME),
    "bind": (sc.MS_BIND, 0), "rbind": (sc.MS_BIND | sc.MS_REC, 0),
    "nosymfollow": (sc.MS_NOSYMFOLLOW, 0),
}
_PROPAGATION: dict[str, int] = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}

# runc's specconv always creates these, whatever the spec lists.
DEFAULT_DEVICES: list[oci.Device] = [
    {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666},
    {"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666},
    {"path": "/dev/random", "type": "c", "major": 1, "minor": 8, "fileMode": 0o666},
    {"path": "/dev/urandom", "type": "c", "major": 1, "minor": 9, "fileMode": 0o666},
    {"path": "/dev/tty", "type": "c", "major": 5, "minor": 0, "fileMode": 0o666},
]
_DEV_SYMLINKS = [
    ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"),
]
_DEVICE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


# runc's recursive options ("rro", ...): mount_setattr(AT_RECURSIVE) after the mount,
# option → (attributes to set, attributes to clear).
_RECURSIVE: dict[str, tuple[int, int]] = {
    "rro": (sc.MOUNT_ATTR_RDONLY, 0), "rrw": (0, sc.MOUNT_ATTR_RDONLY),
    "rnosuid": (sc.MOUNT_ATTR_NOSUID, 0), "rsuid": (0, sc.MOUNT_ATTR_NOSUID),
    "rnodev": (sc.MOUNT_ATTR_NODEV, 0), "rdev": (0, sc.MOUNT_ATTR_NODEV),
    "rnoexec": (sc.MOUNT_ATTR_NOEXEC, 0), "rexec": (0, sc.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (sc.MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, sc.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (sc.MOUNT_ATTR_RELATIME, sc.MOUNT_ATTR__ATIME),
    "rnorelatime": (0, sc.MOUNT_ATTR__ATIME),
    "rnoatime": (sc.MOUNT_ATTR_NOATIME, sc.MOUNT_ATTR__ATIME),
    "ratime": (0, sc.MOUNT_ATTR__ATIME),
    "rstrictatime": (sc.MOUNT_ATTR_STRICTATIME, sc.MOUNT_ATTR__ATIME),
    "rnostrictatime": (0, sc.MOUNT_ATTR__ATIME),
    "rnosymfollow": (sc.MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, sc.MOUNT_ATTR_NOSYMFOLLOW),
}
TMPCOPYUP = "tmpcopyup"  # runc's extension: a tmpfs starts with what the directory held


@dataclass(frozen=True)
class MountOptions:
    flags: int
    propagation: list[int]
    data: str
    rec_set: int = 0  # mount_setattr attributes for the recursive options
    rec_clr: int = 0
    copy_up: bool = False


def parse_options(options: list[str]) -> MountOptions:
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    rec_set = rec_clr = 0
    copy_up = False
    for opt in options:
        if opt in _MOUNT_FLAGS:
            set_, clear = _MOUNT_FLAGS[opt]
            flags = (flags | set_) & ~clear
        elif opt in _PROPAGATION:
            propagation.append(_PROPAGATION[opt])
        elif opt in _RECURSIVE:
            set_, clear = _RECURSIVE[opt]  # accumulated, as runc does ("rro,rrw" is ro)
            rec_set |= set_
            rec_clr |= clear
        elif opt == TMPCOPYUP:
            copy_up = True
        else:
            data.append(opt)
    return MountOptions(flags, propagation, ",".join(data), rec_set, rec_clr, copy_up)


def rootfs_path(spec: oci.Spec, bundle: Path) -> str:
    return str((bundle / spec["root"]["path"]).resolve())


def prepare_rootfs(spec: oci.Spec, bundle: Path,
                   before_pivot: Callable[[], None] | None = None,
                   cgroups_path: str = "", no_pivot: bool = False) -> None:
    """Mount everything under the rootfs and pivot into it; afterwards ``/`` is the rootfs.
    ``cgroups_path`` is the container's cgroup (bound in place of a cgroup v1 mount where
    a user namespace may not mount one)."""
    root = rootfs_path(spec, bundle)
    # runc's prepareRoot: rslave unless the spec says otherwise, so nothing mounted here
    # propagates back to the host (or the shim's) mount namespace.
    propagation = validate.linux_of(spec).get("rootfsPropagation")
    sc.mount("", "/", "", _PROPAGATION[propagation] if propagation
             else sc.MS_SLAVE | sc.MS_REC)
    # pivot_root refuses a shared parent; the bind below must not propagate either.
    sc.mount("", _mount_point_of(root), "", sc.MS_PRIVATE)
    # pivot_root needs the new root to be a mount point.
    sc.mount(root, root, "bind", sc.MS_BIND | sc.MS_REC)
    mounted_dev = False
    for m in spec.get("mounts", []):
        _mount_one(root, m, bundle, cgroups_path)
        mounted_dev |= m["destination"].rstrip("/") == "/dev"
    if mounted_dev:
        _create_devices(root, spec["linux"].get("devices", []))
    if before_pivot is not None:
        before_pivot()
    if no_pivot:
        _move_root(root)
    else:
        _pivot_root(root)


def _mount_point_of(path: str) -> str:
    """The mount point ``path`` lives on (the longest mount point that prefixes it)."""
    best = "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) \
                    and len(point) > len(best):
                best = point
    return best


def finalize_rootfs(spec: oci.Spec) -> None:
    """The protections applied after sysctls, in runc's order; paths are container paths."""
    linux = spec["linux"]
    for path in linux.get("readonlyPaths", []):
        _readonly_path(path)
    for path in linux.get("maskedPaths", []):
        _mask_path(path)
    if spec["root"].get("readonly"):
        _remount("/", sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)


def _mount_one(root: str, m: oci.Mount, bundle: Path, cgroups_path: str) -> None:
    try:
        _mount_one_checked(root, m, bundle, cgroups_path)
    except OSError as err:
        raise RootfsError(f'error mounting "{m.get("source", "")}" to rootfs at '
                          f'"{m["destination"]}": {os.strerror(err.errno or 0).lower()}'
                          ) from None


def _mount_one_checked(root: str, m: oci.Mount, bundle: Path, cgroups_path: str) -> None:
    opts = parse_options(m.get("options", []))
    fstype = m.get("type", "")
    dest = secure_join(root, m["destination"])
    if fstype == "bind" or opts.flags & sc.MS_BIND:
        _bind(m, opts, dest, bundle)
    elif fstype == "cgroup":
        _mount_cgroup(dest, opts, cgroups_path)
    else:
        existing = os.stat(dest) if os.path.isdir(dest) else None
        os.makedirs(dest, exist_ok=True)
        if opts.copy_up and fstype == "tmpfs":
            _mount_copied_up(m.get("source", fstype), dest, opts)
        else:
            with _checked(dest) as target:
                sc.mount(m.get("source", fstype), target, fstype, opts.flags, opts.data)
        if fstype == "tmpfs" and existing is not None and "mode=" not in opts.data:
            # runc: a tmpfs over an existing directory keeps that directory's mode.
            os.chmod(dest, stat.S_IMODE(existing.st_mode))
    if opts.rec_set or opts.rec_clr:
        with _checked(dest) as target:
            sc.mount_setattr(target, opts.rec_set, opts.rec_clr)
    for flag in opts.propagation:
        with _checked(dest) as target:
            sc.mount("", target, "", flag)


def _mount_copied_up(source: str, dest: str, opts: MountOptions) -> None:
    """runc's tmpcopyup: mount the tmpfs aside, copy the directory's contents into it,
    then move it over the directory."""
    aside = tempfile.mkdtemp(prefix=".berth-copyup-", dir=os.path.dirname(dest))
    try:
        sc.mount(source, aside, "tmpfs", opts.flags & ~sc.MS_RDONLY, opts.data)
        try:
            shutil.copytree(dest, aside, symlinks=True, dirs_exist_ok=True)
            st = os.stat(dest)
            os.chmod(aside, stat.S_IMODE(st.st_mode))
            os.chown(aside, st.st_uid, st.st_gid)
            with _checked(dest) as target:
                sc.mount(aside, target, "", sc.MS_MOVE)
        except BaseException:
            sc.umount2(aside, sc.MNT_DETACH)
            raise
    finally:
        os.rmdir(aside)
    if opts.flags & sc.MS_RDONLY:
        _remount(dest, sc.MS_REMOUNT | opts.flags)


@contextmanager
def _checked(dest: str) -> Iterator[str]:
    """``dest`` as ``/proc/self/fd/N`` of an O_PATH descriptor, refused unless what is at
    ``dest`` now is ``dest`` itself (runc's ``WithProcfd``): a link swapped into a path
    after ``secure_join`` resolved it (by a container sharing a volume mounted above it)
    must not carry the mount anywhere else."""
    fd = os.open(dest, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
        if real != dest or stat.S_ISLNK(os.fstat(fd).st_mode):
            raise OSError(errno.EXDEV, f"mount destination {dest} moved to {real}")
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _bind(m: oci.Mount, opts: MountOptions, dest: str, bundle: Path) -> None:
    source = str(bundle / m.get("source", ""))  # an absolute source ignores the bundle
    if os.path.isdir(source):
        os.makedirs(dest, exist_ok=True)
    else:  # a file bind (/etc/hosts, /etc/resolv.conf): the target must be a file
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if not os.path.lexists(dest):
            os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    bind_flags = sc.MS_BIND | (opts.flags & sc.MS_REC)
    with _checked(dest) as target:
        sc.mount(source, target, "bind", bind_flags)
    # A bind mount ignores every other flag until it is remounted.
    extra = opts.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
    if extra:
        with _checked(dest) as target:
            _remount(target, sc.MS_BIND | sc.MS_REMOUNT | extra)


def _remount(dest: str, flags: int) -> None:
    """Remount keeping the locked per-mount flags the kernel refuses to drop."""
    st = os.statvfs(dest)
    keep = st.f_flag & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME
                        | sc.MS_NODIRATIME | sc.MS_RELATIME)
    sc.mount("", dest, "", flags | keep)


def _mount_cgroup(dest: str, opts: MountOptions, cgroups_path: str) -> None:
    """cgroup2 where the host is unified; else a tmpfs with one cgroup v1 mount per host
    hierarchy (as runc does). The cgroup namespace makes each show only the container.
    In a user namespace, where cgroup v1 cannot be mounted, each hierarchy is the
    container's own cgroup directory bound from the host (runc's bind mounts)."""
    os.makedirs(dest, exist_ok=True)
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        sc.mount("cgroup2", dest, "cgroup2", opts.flags)
        return
    bind = userns.in_user_namespace() and cgroups_path
    sc.mount("tmpfs", dest, "tmpfs", opts.flags & ~sc.MS_RDONLY, "mode=755")
    for mountpoint, controllers in _host_cgroup_v1_mounts():
        sub = os.path.join(dest, os.path.basename(mountpoint))
        os.makedirs(sub, exist_ok=True)
        if bind:
            source = os.path.join(mountpoint, cgroups_path.lstrip("/"))
            if not os.path.isdir(source):
                continue  # a hierarchy the manager does not use (name=systemd)
            sc.mount(source, sub, "bind", sc.MS_BIND | sc.MS_REC)
            extra = opts.flags & (sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
            _remount(sub, sc.MS_BIND | sc.MS_REMOUNT | extra)
        else:
            sc.mount("cgroup", sub, "cgroup", opts.flags, controllers)
    if opts.flags & sc.MS_RDONLY:
        _remount(dest, sc.MS_REMOUNT | sc.MS_RDONLY)


def _host_cgroup_v1_mounts() -> list[tuple[str, str]]:
    """(mount point, controller options) of each cgroup v1 hierarchy, from mountinfo."""
    found: list[tuple[str, str]] = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = right.split()
            if len(fields) < 3 or fields[0] != "cgroup":
                continue
            mountpoint = left.split()[4]
            controllers = [o for o in fields[2].split(",") if o not in ("rw", "ro")]
            found.append((mountpoint, ",".join(controllers)))
    return found


def _create_devices(root: str, devices: list[oci.Device]) -> None:
    by_path = {d["path"]: d for d in DEFAULT_DEVICES}
    by_path.update({d["path"]: d for d in devices})
    bind = userns.in_user_namespace()  # mknod of a device is refused there
    old_umask = os.umask(0)  # fileMode is exact
    try:
        for dev in by_path.values():
            try:
                _create_device(root, dev, bind)
            except OSError as err:
                raise RootfsError(f"create device {dev['path']}: "
                                  f"{os.strerror(err.errno or 0).lower()}") from None
    finally:
        os.umask(old_umask)
    dev_dir = secure_join(root, "/dev")
    for target, name in _DEV_SYMLINKS:
        link = os.path.join(dev_dir, name)
        if not os.path.lexists(link):
            os.symlink(target, link)


def _create_device(root: str, dev: oci.Device, bind: bool) -> None:
    path = secure_join(root, dev["path"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    kind = _DEVICE_TYPES[dev["type"]]
    if bind and kind != stat.S_IFIFO:
        # runc's bindMountDeviceNode: the host's node, bound onto an empty file.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o000))
        with _checked(path) as target:
            sc.mount(dev["path"], target, "bind", sc.MS_BIND)
        return
    sc.mknod(path, kind | dev.get("fileMode", 0o666) & 0o7777, dev.get("major", 0),
             dev.get("minor", 0))
    os.chown(path, dev.get("uid", 0), dev.get("gid", 0))


def _move_root(root: str) -> None:
    """runc's ``--no-pivot`` (a root on ramfs, where pivot_root is refused): move the
    rootfs over ``/`` and chroot into it. The old root stays below, reachable to a
    process that can chroot out, as with runc."""
    os.chdir(root)
    sc.mount(root, "/", "", sc.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def _pivot_root(root: str) -> None:
    """pivot_root(".", ".") stacks the old root on top of the new one, so no put_old
    directory is needed inside the (possibly read-only) rootfs; then detach it."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(root)
        sc.pivot_root(".", ".")
        os.fchdir(old_root)
        # Make the old root a slave first so detaching it cannot unmount anything on the
        # host through shared propagation.
        sc.mount("", ".", "", sc.MS_SLAVE | sc.MS_REC)
        sc.umount2(".", sc.MNT_DETACH)
    finally:
        os.close(old_root)
    os.chdir("/")


def _readonly_path(path: str) -> None:
    try:
        sc.mount(path, path, "", sc.MS_BIND | sc.MS_REC)
    except FileNotFoundError:
        return
    _remount(path, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)


def _mask_path(path: str) -> None:
    try:
        if os.path.isdir(path):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
        else:
            sc.mount("/dev/null", path, "bind", sc.MS_BIND)
    except FileNotFoundError:
        return
