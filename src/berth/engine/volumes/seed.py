"""Seeding a new volume from the image (docker's ``copyExistingContents``): when an empty
volume is first mounted over a directory the container's root has, that directory's
files, with their modes, owners and times, are copied into the volume, and the volume's
top directory takes the directory's owner and mode.

The source is read through the root's merged view (``LayerTree``: whiteouts honoured,
symlinks resolved inside the root); every file is created in the volume relative to an
open directory with no link followed, so neither the image nor a container sharing the
volume can redirect a write onto the host. Blocking: call it in a thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat

from berth.store.rootview import LayerTree, split

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def is_empty(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except FileNotFoundError:
        return True


def seed(rootfs: LayerTree, target: str, dest: str) -> bool:
    """Copy the root's directory at ``target`` into the empty directory ``dest``; False
    (nothing copied) if the root has no directory there."""
    try:
        rel = rootfs.resolve(target)
        top = rootfs.lstat(rel)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if not stat.S_ISDIR(top.st_mode):
        return False
    root_fd = os.open(dest, _DIR)
    try:
        dirs: list[tuple[str, os.stat_result]] = []
        for sub, source in rootfs.entries(rel):
            st = os.lstat(source)
            parts = split(sub)
            parent = _open_dir(root_fd, parts[:-1])
            try:
                _copy_one(source, st, parent, parts[-1])
            finally:
                os.close(parent)
            if stat.S_ISDIR(st.st_mode):
                dirs.append((sub, st))
        for sub, st in reversed(dirs):  # after their content: its writes changed mtime
            fd = _open_dir(root_fd, split(sub))
            try:
                os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fd)
        _own(root_fd, top)
    finally:
        os.close(root_fd)
    return True


def _open_dir(root_fd: int, parts: list[str]) -> int:
    fd = os.dup(root_fd)
    for name in parts:
        try:
            child = os.open(name, _DIR, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd


def _own(fd: int, st: os.stat_result) -> None:
    if os.geteuid() == 0:
        os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))


def _copy_one(source: str, st: os.stat_result, parent: int, name: str) -> None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, _DIR, dir_fd=parent)
        try:
            _own(fd, st)
        finally:
            os.close(fd)
        return
    if stat.S_ISREG(mode):
        src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o600, dir_fd=parent)
            try:
                with open(src, "rb", closefd=False) as r, open(dst, "wb", closefd=False) as w:
                    shutil.copyfileobj(r, w, 1 << 20)
                _own(dst, st)
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dst)
        finally:
            os.close(src)
        return
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(source), name, dir_fd=parent)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(name, mode, st.st_rdev, dir_fd=parent)
    else:
        return  # a socket: nothing to copy
    if os.geteuid() == 0:
        os.chown(name, st.st_uid, st.st_gid, dir_fd=parent, follow_symlinks=False)
    if not stat.S_ISLNK(mode):  # the kernel has no fchmodat(AT_SYMLINK_NOFOLLOW)
        with contextlib.suppress(OSError, NotImplementedError):
            os.chmod(name, stat.S_IMODE(mode), dir_fd=parent, follow_symlinks=False)
    with contextlib.suppress(OSError):
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=parent,
                 follow_symlinks=False)
