"""The build context as the docker CLI sends it: a tar stream of the context directory,
``.dockerignore`` applied while walking.

The walk never enters a directory ``.dockerignore`` excludes unless a later ``!``
exception could match inside it (``DockerIgnore.must_descend``), and it reads directory
entries' types from ``scandir`` without a ``stat``: an excluded 2 GB ``node_modules`` costs
one directory entry, not two million. Included files are stat'ed once and read a block at a
time while the tar is generated, so the stream is never whole in memory::

    .dockerignore, Dockerfile (when generated), then the walk in name order
    header (PAX, uid/gid 0 as ``ChownOpts{0,0}``) | data in 64 KiB blocks | pad to 512
    ... two zero blocks

A Dockerfile outside the context (``-f ../x``, or ``-f -``) is added under a generated
name (``.dockerfile.<20 hex>``) that is also appended to ``.dockerignore``, so ``COPY .``
does not copy it: docker's ``AddDockerfileToBuildContext``.
"""

from __future__ import annotations

import os
import stat
import tarfile

from berth.api.types.dockerignore import DockerIgnore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

DOCKERIGNORE = ".dockerignore"
BLOCK = 512
_READ = 64 * 1024


class ContextError(Exception):
    """A context that cannot be sent; ``str`` is docker's message."""


class Member:
    """One file of the context: its path in the tar and its (l)stat."""

    __slots__ = ("path", "rel", "st")

    def __init__(self, rel: str, path: str, st: os.stat_result) -> None:
        self.rel = rel
        self.path = path
        self.st = st


def read_dockerignore(context_dir: str) -> bytes | None:
    try:
        with open(os.path.join(context_dir, DOCKERIGNORE), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ContextError(f"error reading .dockerignore: {err.strerror}") from err


def walk(context_dir: str, ignore: DockerIgnore | None, skip: frozenset[str] = frozenset(),
         ) -> Iterator[Member]:
    """Included entries under ``context_dir`` in name order, parents first; ``skip`` are
    root-level names sent separately."""

    def visit(rel: str) -> Iterator[Member]:
        path = os.path.join(context_dir, rel) if rel else context_dir
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            raise ContextError(f"error checking context: can't read directory "
                               f"'{path}': {err.strerror}") from err
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            if not rel and entry.name in skip:
                continue
            excluded = ignore is not None and ignore.match(child)
            is_dir = entry.is_dir(follow_symlinks=False)
            if excluded:
                if is_dir and ignore is not None and ignore.must_descend(child):
                    yield from visit(child)
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as err:
                raise ContextError(f"error checking context: can't stat '{entry.path}'"
                                   ) from err
            yield Member(child, entry.path, st)
            if is_dir:
                yield from visit(child)

    return visit("")


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = int(st.st_mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def file_entry(name: str, data: bytes, mode: int = 0o644, mtime: int = 0) -> bytes:
    """A whole regular-file entry, for small generated files."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    return _header(info) + data + b"\0" * (-len(data) % BLOCK)


def member_blocks(member: Member, links: dict[tuple[int, int], str]) -> Iterator[bytes]:
    """The tar entry of ``member``: header, then its data a block at a time."""
    st = member.st
    info = _info(member.rel, st)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(member.path)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            info.type, info.linkname = tarfile.LNKTYPE, links[key]
        else:
            if st.st_nlink > 1:
                links[key] = member.rel
            yield from _file_blocks(member, info)
            return
    else:
        return  # sockets and devices are not sent, as docker's archive skips them
    yield _header(info)


def _file_blocks(member: Member, info: tarfile.TarInfo) -> Iterator[bytes]:
    size = member.st.st_size
    try:
        f = open(member.path, "rb")  # closed by the "with" below, across the yields
    except OSError as err:
        raise ContextError(f"error checking context: no permission to read from "
                           f"'{member.path}'" if isinstance(err, PermissionError)
                           else f"open {member.path}: {err.strerror}") from err
    with f:
        info.size = size
        yield _header(info)
        left = size
        while left > 0:
            chunk = f.read(min(_READ, left))
            if not chunk:
                raise ContextError(f"{member.path}: file shrank while being sent")
            left -= len(chunk)
            yield chunk
    if size % BLOCK:
        yield b"\0" * (BLOCK - size % BLOCK)


def tar_stream(context_dir: str, ignore: DockerIgnore | None,
               head: list[tuple[str, bytes]] | None = None) -> Iterator[bytes]:
    """The context tar. ``head`` holds generated root files sent first (they replace any
    file of that name in the directory); otherwise ``.dockerignore`` leads, so the
    daemon can filter while it unpacks."""
    head = list(head or ())
    names = frozenset(name for name, _ in head)
    skip = names
    if DOCKERIGNORE not in names:
        path = os.path.join(context_dir, DOCKERIGNORE)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            pass
        else:
            yield from member_blocks(Member(DOCKERIGNORE, path, st), {})
            skip = names | {DOCKERIGNORE}
    for name, data in head:
        yield file_entry(name, data)
    links: dict[tuple[int, int], str] = {}
    for member in walk(context_dir, ignore, skip):
        yield from member_blocks(member, links)
    yield b"\0" * (2 * BLOCK)
