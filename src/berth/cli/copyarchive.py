"""The local half of ``cp``: moby's ``archive`` copy rules (``CopyInfoSourcePath``,
``CopyInfoDestinationPath``, ``PrepareArchiveCopy``, ``RebaseArchiveEntries``) over
``tarfile`` streams.

Where a copy lands depends on both ends::

    destination           source is a directory         source is a file
    exists, directory     extract into it               extract into it
    exists, file          "cannot copy directory"       parent, renamed to its base
    missing               parent, renamed to its base   parent, renamed (path/ refused)

"Renamed" is a rebase: every entry named ``SRC_BASE`` or ``SRC_BASE/...`` takes the new
base instead. Tars are read and written as streams (``r|``/``w|``), one member at a time,
so memory stays bounded by a chunk whatever the size of a file.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator
    from typing import IO

CANNOT_COPY_DIR = "cannot copy directory"
DIR_NOT_EXISTS = "no such directory"
_SMALL = 64 * 1024  # writes of the tar gathered up to this before they are handed over
_BLOCK = 1 << 20  # a file's data is read and handed over in pieces this big


class CopyError(Exception):
    """A copy refused or failed on the local side; the message is docker's."""


class CopyInfo:
    """moby's ``archive.CopyInfo``: one end of a copy."""

    __slots__ = ("exists", "is_dir", "path", "rebase_name")

    def __init__(self, path: str, exists: bool = False, is_dir: bool = False,
                 rebase_name: str = "") -> None:
        self.path = path
        self.exists = exists
        self.is_dir = is_dir
        self.rebase_name = rebase_name


def asserts_directory(path: str) -> bool:
    return path.endswith("/") or path.endswith("/.")


def split_dir_entry(path: str) -> tuple[str, str]:
    """moby's ``SplitPathDirEntry``: ("/a/b", "c") for "/a/b/c/" (a trailing "/." kept as
    the entry ".")."""
    cleaned = os.path.normpath(path) if path not in ("", ".") else "."
    if path.endswith("/."):
        cleaned += "/."
    parent, base = os.path.split(cleaned)
    return parent or ".", base


def preserve_trailing(cleaned: str, original: str) -> str:
    """moby's ``PreserveTrailingDotOrSeparator``."""
    if original.endswith("/.") and not cleaned.endswith("/."):
        return cleaned + "/."
    if original.endswith("/") and not cleaned.endswith("/"):
        return cleaned + "/"
    return cleaned


def local_path(path: str) -> str:
    return preserve_trailing(os.path.abspath(path), path)


def source_info(path: str, follow_link: bool) -> CopyInfo:
    """moby's ``CopyInfoSourcePath``: the local source, following a symlink with ``-L``."""
    rebase = ""
    if follow_link and os.path.islink(path.rstrip("/") or "/"):
        resolved = os.path.realpath(path)
        rebase = split_dir_entry(path)[1]
        path = resolved
    try:
        st = os.lstat(path)
    except OSError as err:
        raise CopyError(f"lstat {path}: {(err.strerror or str(err)).lower()}") from err
    import stat

    return CopyInfo(path, True, stat.S_ISDIR(st.st_mode), rebase)


def destination_info(path: str) -> CopyInfo:
    """moby's ``CopyInfoDestinationPath``: follows symlinks at the destination; a missing
    path needs an existing parent."""
    for _ in range(255):
        if not os.path.islink(path.rstrip("/") or "/"):
            break
        target = os.readlink(path.rstrip("/"))
        if not os.path.isabs(target):
            target = os.path.join(split_dir_entry(path)[0], target)
        path = preserve_trailing(os.path.normpath(target), path)
    if not os.path.lexists(path.rstrip("/") or "/"):
        parent = split_dir_entry(path)[0]
        if not os.path.isdir(parent):
            raise CopyError(f"lstat {parent}: no such file or directory")
        return CopyInfo(path)
    return CopyInfo(path, True, os.path.isdir(path))


def plan(src: CopyInfo, dst: CopyInfo) -> tuple[str, tuple[str, str] | None]:
    """moby's ``PrepareArchiveCopy``: the directory to extract into, and the rebase
    (old base, new base) the entries need, if any."""
    src_base = src.rebase_name or split_dir_entry(src.path)[1]
    dst_dir, dst_base = split_dir_entry(dst.path)
    if dst.exists and dst.is_dir:
        return dst.path, None
    if dst.exists and src.is_dir:
        raise CopyError(CANNOT_COPY_DIR)
    if not dst.exists and not src.is_dir and asserts_directory(dst.path):
        raise CopyError(DIR_NOT_EXISTS)
    return dst_dir, (src_base, dst_base)


def rebase_name(name: str, rebase: tuple[str, str] | None) -> str:
    if rebase is None:
        return name
    old, new = rebase
    stripped = name.removeprefix("./") if old != "." else name
    if stripped == old or stripped.rstrip("/") == old:
        return new
    if old == "." and (name.startswith("./") or name == "."):
        return new + name[1:]
    if stripped.startswith(old + "/"):
        return new + stripped[len(old):]
    return name


class ChunkReader:
    """A file over an iterator of chunks: ``read(n)`` never holds more than one chunk
    beyond what was asked for. Counts the bytes that arrived: docker reports what its
    buffered reader pulled from the response, in practice the whole body (record padding
    after the tar's end marker included), so ``drain`` reads what the tar reader left."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = bytearray()  # consumed from the front: del of a prefix is cheap
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buf += chunk
        if size < 0 or size >= len(self._buf):
            data = bytes(self._buf)
            self._buf.clear()
        else:
            with memoryview(self._buf) as view:  # one copy, not a slice and a copy
                data = view[:size].tobytes()
            del self._buf[:size]
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(_BLOCK):
            pass


class _Extractor(tarfile.TarFile):
    """docker's client-side ``Untar`` with ``NoLchown``: the files are the caller's."""

    def chown(self, tarinfo: tarfile.TarInfo,
              targetpath: str | bytes | os.PathLike[str] | os.PathLike[bytes],
              numeric_owner: bool) -> None:
        return None


def _keep_mode(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """``tarfile``'s "tar" filter (no absolute names, nothing written outside ``dest``,
    not even through a link) with the entry's mode kept as docker keeps it. A symlink's
    target is judged as moby's ``Untar`` judges it: joined to the link's directory, so
    an absolute target (``/bin/busybox``) is fine and only a "../" climbing out of
    ``dest`` is refused."""
    if not member.issym():
        checked = tarfile.tar_filter(member, dest)
        return checked.replace(mode=member.mode, deep=False)
    checked = tarfile.tar_filter(member.replace(linkname="", deep=False), dest)
    root = os.path.realpath(dest)
    link_dir = os.path.dirname(os.path.join(root, member.name))
    target = os.path.normpath(link_dir + "/" + member.linkname)
    if target != root and not target.startswith(root + os.sep):
        raise CopyError(f'invalid symlink "{os.path.join(root, member.name)}" -> '
                        f'"{member.linkname}"')
    return checked.replace(linkname=member.linkname, mode=member.mode, deep=False)


def extract(reader: ChunkReader, dest: str, rebase: tuple[str, str] | None) -> None:
    """Untar the stream into ``dest`` (moby's ``NoOverwriteDirNonDir``: a directory is
    never replaced by a file)."""
    try:
        # tarfile reads 64 KiB at a time (its buffer is re-sliced per header: no bigger),
        # a file's data is copied 1 MiB at a time
        with _Extractor.open(fileobj=reader, mode="r|", bufsize=_SMALL,  # type: ignore[call-overload]
                             copybufsize=_BLOCK) as tar:
            for member in tar:
                member.name = rebase_name(member.name, rebase)
                if member.islnk():
                    member.linkname = rebase_name(member.linkname, rebase)
                target = os.path.join(dest, member.name)
                if os.path.isdir(target) and not os.path.islink(target) and \
                        not member.isdir():
                    raise CopyError(f'cannot overwrite directory "{target}" with '
                                    f'non-directory "{member.name}"')
                if not member.isdir() and os.path.lexists(target) and \
                        not os.path.isdir(target):
                    os.unlink(target)
                tar.extract(member, dest, filter=_keep_mode)
    except tarfile.FilterError as err:
        raise CopyError(str(err)) from err
    except tarfile.TarError as err:
        raise CopyError(f"invalid copy source content: {err}") from err
    except OSError as err:
        raise CopyError(f"{err.strerror or err}: {err.filename}".lower()) from err


class _GoTarWriter(tarfile.TarFile):
    """Times in whole seconds and owners by id, as moby's archive writes them (no PAX
    header for a fraction). ``tar_stream`` ends the archive itself, as Go's
    ``archive/tar`` does: the two zero blocks without ``tarfile``'s padding to a 10 KiB
    record, so "Successfully copied" counts as docker's."""

    def gettarinfo(self, name: str | bytes | os.PathLike[str] | os.PathLike[bytes] | None = None,
                   arcname: str | None = None,
                   fileobj: IO[bytes] | None = None) -> tarfile.TarInfo:
        info = super().gettarinfo(name, arcname, fileobj)
        info.mtime = int(info.mtime)
        info.uname = info.gname = ""  # moby's FileInfoHeaderNoLookups: ids, not names
        return info


class _Sink:
    """The tar writer's file: what it writes handed to the sending thread as it is (a
    file's data in ``tar_stream``'s blocks, no copy; small writes, the headers, gathered),
    at most ``depth`` blocks waiting. ``tell`` is what a non-stream ``TarFile`` wants."""

    def __init__(self, depth: int = 4) -> None:
        import queue

        self.blocks: queue.Queue[bytes | None] = queue.Queue(depth)
        self.closed = threading.Event()  # the reader went away: stop writing
        self.pos = 0
        self._small = bytearray()

    def write(self, data: bytes) -> int:
        n = len(data)
        self.pos += n
        if n < _SMALL:
            self._small += data
            if len(self._small) >= _SMALL:
                self.flush()
            return n
        self.flush()
        self._put(bytes(data))
        return n

    def flush(self) -> None:
        if self._small:
            self._put(bytes(self._small))
            self._small.clear()

    def _put(self, block: bytes | None) -> None:
        import queue

        while not self.closed.is_set():
            try:
                self.blocks.put(block, timeout=0.5)
                return
            except queue.Full:
                continue
        raise BrokenPipeError("the tar's reader went away")

    def tell(self) -> int:
        return self.pos


def tar_stream(src: CopyInfo, rebase: tuple[str, str] | None
               ) -> tuple[Generator[bytes, None, None], Callable[[], None]]:
    """moby's ``TarResource`` rebased as ``PrepareArchiveCopy`` says: the tar's blocks as
    a thread writes them (a file's data read in 1 MiB blocks, handed over without a copy;
    at most a few blocks ahead of the reader). Returns the blocks and a function that
    waits for the writer and raises what it hit."""
    parent, base = split_dir_entry(src.path)
    arcbase = src.rebase_name or base
    sink = _Sink()
    failure: list[BaseException] = []

    def write() -> None:
        try:
            tar = _GoTarWriter(fileobj=sink, mode="w",  # type: ignore[arg-type]
                               format=tarfile.PAX_FORMAT, copybufsize=_BLOCK)
            root = os.path.join(parent, base)
            tar.add(root, arcname=rebase_name(arcbase if base != "." else ".", rebase),
                    recursive=True)
            sink.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))  # no close(): no padding
            sink.flush()
        except BrokenPipeError:
            pass  # the reader stopped: it knows why
        except (OSError, tarfile.TarError) as err:
            failure.append(err)
        finally:
            with contextlib.suppress(BrokenPipeError):
                sink._put(None)

    writer = threading.Thread(target=write, name="cp-tar", daemon=True)
    writer.start()

    def blocks() -> Generator[bytes, None, None]:
        try:
            while (block := sink.blocks.get()) is not None:
                yield block
        finally:
            sink.closed.set()

    def finish() -> None:
        sink.closed.set()
        writer.join()
        if failure:
            raise CopyError(str(failure[0]))

    return blocks(), finish


def counted(blocks: Iterable[bytes], total: list[int]) -> Iterator[bytes]:
    """``blocks``, adding their sizes to ``total[0]``."""
    for block in blocks:
        total[0] += len(block)
        yield block
