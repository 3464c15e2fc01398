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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from berth.formats.dockerignore import DockerIgnore

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


# typeflags (POSIX ustar)
REGTYPE, LNKTYPE, SYMTYPE, DIRTYPE, FIFOTYPE, PAXTYPE = b"0", b"1", b"2", b"5", b"6", b"x"
_OCTAL_MAX = 8 ** 11  # the largest value a 12-byte octal field holds


class Header:
    """One tar header, written the way Go's archive/tar does for docker's CLI: ustar, with
    a PAX record (``path``, ``linkpath``, ``size``, ``mtime``) for what ustar cannot hold.
    Written here rather than with ``tarfile``, which costs every ``berth build`` ~20 ms of
    imports (the CLI's start-up budget: bench/startup.py)."""

    __slots__ = ("linkname", "mode", "mtime", "name", "size", "type")

    def __init__(self, name: str, mode: int, mtime: int, type: bytes = REGTYPE,
                 size: int = 0, linkname: str = "") -> None:
        self.name, self.mode, self.mtime = name, mode, mtime
        self.type, self.size, self.linkname = type, size, linkname

    def tobytes(self) -> bytes:
        name = self.name + "/" if self.type == DIRTYPE and not self.name.endswith("/") \
            else self.name
        raw_name, raw_link = _encode(name), _encode(self.linkname)
        pax: list[tuple[str, str]] = []
        if len(raw_name) > 100 or not name.isascii():
            pax.append(("path", name))
        if len(raw_link) > 100 or not self.linkname.isascii():
            pax.append(("linkpath", self.linkname))
        size, mtime = self.size, self.mtime
        if size >= _OCTAL_MAX:
            pax.append(("size", str(size)))
            size = 0
        if not 0 <= mtime < _OCTAL_MAX:
            pax.append(("mtime", str(mtime)))
            mtime = 0
        block = _ustar(raw_name[:100], self.mode, mtime, size, self.type, raw_link[:100])
        if not pax:
            return block
        records = b"".join(_pax_record(k, v) for k, v in pax)
        return (_ustar(b"././@PaxHeader", 0o644, 0, len(records), PAXTYPE, b"")
                + records + b"\0" * (-len(records) % BLOCK) + block)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _ustar(name: bytes, mode: int, mtime: int, size: int, type: bytes, link: bytes) -> bytes:
    head = b"".join((
        name.ljust(100, b"\0"), b"%07o\0" % mode, b"%07o\0" % 0, b"%07o\0" % 0,
        b"%011o\0" % size, b"%011o\0" % mtime, b" " * 8, type, link.ljust(100, b"\0"),
        b"ustar\x0000", b"\0" * 32, b"\0" * 32, b"%07o\0" % 0, b"%07o\0" % 0,
    )).ljust(BLOCK, b"\0")
    checksum = b"%06o\0 " % sum(head)
    return head[:148] + checksum + head[156:]


def _pax_record(key: str, value: str) -> bytes:
    """``"<len> key=value\\n"``, where ``<len>`` counts the whole record, itself included."""
    body = f" {key}={value}\n".encode("utf-8", "surrogateescape")
    n = p = 0
    while True:
        n = len(body) + len(str(p))
        if n == p:
            return str(n).encode() + body
        p = n


def file_entry(name: str, data: bytes, mode: int = 0o644, mtime: int = 0) -> bytes:
    """A whole regular-file entry, for small generated files."""
    head = Header(name, mode, mtime, size=len(data)).tobytes()
    return head + data + b"\0" * (-len(data) % BLOCK)


def member_blocks(member: Member, links: dict[tuple[int, int], str]) -> Iterator[bytes]:
    """The tar entry of ``member``: header, then its data a block at a time."""
    st = member.st
    info = Header(member.rel, stat.S_IMODE(st.st_mode), int(st.st_mtime))
    if stat.S_ISDIR(st.st_mode):
        info.type = DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = SYMTYPE, os.readlink(member.path)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = FIFOTYPE
    elif stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            info.type, info.linkname = LNKTYPE, links[key]
        else:
            if st.st_nlink > 1:
                links[key] = member.rel
            yield from _file_blocks(member, info)
            return
    else:
        return  # sockets and devices are not sent, as docker's archive skips them
    yield info.tobytes()


def _file_blocks(member: Member, info: Header) -> Iterator[bytes]:
    size = member.st.st_size
    try:
        f = open(member.path, "rb")  # closed by the "with" below, across the yields
    except OSError as err:
        raise ContextError(f"error checking context: no permission to read from "
                           f"'{member.path}'" if isinstance(err, PermissionError)
                           else f"open {member.path}: {err.strerror}") from err
    with f:
        info.size = size
        yield info.tobytes()
        left = size
        while left > 0:
            chunk = f.read(min(_READ, left))
            if not chunk:
                raise ContextError(f"{member.path}: file shrank while being sent")
            left -= len(chunk)
            yield chunk
    if size % BLOCK:
        yield b"\0" * (BLOCK - size % BLOCK)


def members(context_dir: str, ignore: DockerIgnore | None,
            head: list[tuple[str, bytes]] | None = None) -> Iterator[Member]:
    """The walked entries :func:`tar_stream` sends after ``.dockerignore`` and ``head``."""
    names = frozenset(name for name, _ in head or ())
    return walk(context_dir, ignore, names | {DOCKERIGNORE})


def signature(st: os.stat_result) -> str:
    """What says a file is unchanged since the daemon last got it: mtime, ctime, inode,
    device and mode (a rewrite, a touch or a chmod changes the ctime)."""
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}:{st.st_mode:o}"


def reusable_files(walked: list[Member]) -> list[tuple[str, int, str]]:
    """The regular files of the context the daemon may keep between builds (path, size,
    signature); files with other hard links are always sent, whole."""
    return [(m.rel, m.st.st_size, signature(m.st)) for m in walked
            if stat.S_ISREG(m.st.st_mode) and m.st.st_nlink == 1]


def tar_stream(context_dir: str, ignore: DockerIgnore | None,
               head: list[tuple[str, bytes]] | None = None,
               walked: list[Member] | None = None,
               leave_out: frozenset[str] = frozenset()) -> Iterator[bytes]:
    """The context tar. ``head`` holds generated root files sent first (they replace any
    file of that name in the directory); otherwise ``.dockerignore`` leads, so the
    daemon can filter while it unpacks. ``walked``: the :func:`members` already listed;
    ``leave_out``: paths of files not to send (the daemon links them from its copy)."""
    head = list(head or ())
    names = frozenset(name for name, _ in head)
    if DOCKERIGNORE not in names:
        path = os.path.join(context_dir, DOCKERIGNORE)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            pass
        else:
            yield from member_blocks(Member(DOCKERIGNORE, path, st), {})
    for name, data in head:
        yield file_entry(name, data)
    links: dict[tuple[int, int], str] = {}
    for member in members(context_dir, ignore, head) if walked is None else walked:
        if member.rel not in leave_out:
            yield from member_blocks(member, links)
    yield b"\0" * (2 * BLOCK)
