"""``berth cp [-a] [-L] [-q] CONTAINER:SRC DEST|-`` and ``berth cp SRC|- CONTAINER:DEST``,
as docker 28's (issue 12): a stat (HEAD) and a tar (GET or PUT) of
``/containers/{id}/archive``, the local side by ``copyarchive``'s rules. Both directions
stream; "Successfully copied 2.05kB to ..." (the tar's size) goes to stderr unless quiet,
and quiet is the default when stdout is not a terminal.
"""

from __future__ import annotations

import contextlib
import os

from berth import errors
from berth.cli.command import Command, StatusError, reraise_unreachable
from berth.cli.copyarchive import (
    ChunkReader,
    CopyError,
    CopyInfo,
    counted,
    destination_info,
    extract,
    local_path,
    plan,
    source_info,
    split_dir_entry,
    tar_stream,
)
from berth.cli.flags import Flag
from berth.cli.output import human_size

MODE_DEVICE = 1 << 26  # Go's os.ModeDevice
MODE_IRREGULAR = 1 << 19  # Go's os.ModeIrregular

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from berth.cli.command import Context
    from berth.cli.flags import Options
    from berth.client.archive import ArchiveAPI

COMMAND = Command(
    "cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- "
    "CONTAINER:DEST_PATH",
    "Copy files/folders between a container and the local filesystem",
    (Flag("archive", "a", "bool", help="Archive mode (copy all uid/gid information)"),
     Flag("follow-link", "L", "bool", help="Always follow symbol link in SRC_PATH"),
     Flag("quiet", "q", "bool", help="Suppress progress output during copy. Progress "
          "output is automatically suppressed if no terminal is attached")),
    min_args=2, max_args=2, aliases=("container cp", "cp"))


class Progress:
    """docker's ``copyProgress``: on a terminal stderr, the bytes copied so far after
    ``header``, redrawn every 75 ms in place (ANSI save/restore, as ``aec`` writes them),
    and erased at the end, before the "Successfully copied" line."""

    def __init__(self, ctx: Context, header: str, count: Callable[[], int],
                 quiet: bool) -> None:
        import threading

        self._ctx = ctx
        self._header = header
        self._count = count
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not quiet and ctx.stderr.isatty():
            self._thread = threading.Thread(target=self._draw, name="cp-progress",
                                            daemon=True)

    def _write(self, text: str) -> None:
        self._ctx.stderr.write(text)
        self._ctx.stderr.flush()

    def _draw(self) -> None:
        self._write("\x1b[?25l\x1b[u\x1b[2K" + self._header + human_size(0))
        last = 0
        while not self._stop.wait(0.075):
            n = self._count()
            if n != last:
                self._write(f"\x1b[{len(self._header) + 1}G\x1b[0K{human_size(n)}")
                last = n
        self._write("\x1b[?25h")

    def __enter__(self) -> Progress:
        if self._thread is not None:
            self._write("\x1b[sPreparing to copy...")
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._write("\x1b[u\x1b[2K")


def split_cp_arg(arg: str) -> tuple[str, str]:
    """docker's ``splitCpArg``: ``CONTAINER:PATH``, unless the text is a local path (an
    absolute one, or a relative one starting with ".")."""
    if arg.startswith("/"):
        return "", arg
    container, colon, path = arg.partition(":")
    if not colon or container.startswith("."):
        return "", arg
    return container, path


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    if not args[0]:
        raise StatusError(1, "source can not be empty")
    if not args[1]:
        raise StatusError(1, "destination can not be empty")
    quiet = opts.quiet if "quiet" in opts.given else not ctx.stdout.isatty()
    src_ctr, src_path = split_cp_arg(args[0])
    dst_ctr, dst_path = split_cp_arg(args[1])
    if src_ctr and dst_ctr:
        raise StatusError(1, "copying between containers is not supported")
    if not src_ctr and not dst_ctr:
        raise StatusError(1, "must specify at least one container source")
    archive = ctx.client.archive
    try:
        if src_ctr:
            _from_container(ctx, archive, src_ctr, src_path, dst_path, opts.follow_link, quiet)
        else:
            _to_container(ctx, archive, src_path, dst_ctr, dst_path, opts, quiet)
    except CopyError as err:
        raise StatusError(1, str(err)) from err
    return 0


def _from_container(ctx: Context, archive: ArchiveAPI, container: str, src: str, dst: str,
                    follow: bool, quiet: bool) -> None:
    if dst != "-":
        dst = local_path(dst)
        _validate_output(dst)
    rebase = ""
    if follow:
        try:
            stat = archive.stat(container, src)
        except errors.BerthError as err:  # docker ignores a failed stat: the GET will tell
            reraise_unreachable(err)
            stat = None
        if stat is not None and stat.is_symlink:
            target = stat.link_target
            if not target.startswith("/"):
                target = os.path.join(split_dir_entry(src)[0], target)
            rebase = split_dir_entry(src)[1]
            src = target
    stat, body = archive.get(container, src)
    with contextlib.closing(body):
        if dst == "-":
            out = ctx.bout
            for chunk in body:
                out.write(chunk)
            out.flush()
            return
        reader = ChunkReader(body)
        src_info = CopyInfo(src, True, stat.is_dir, rebase)
        target, renamed = plan(src_info, destination_info(dst))
        if rebase:  # the entries carry the link target's name: rename them as docker does
            renamed = (split_dir_entry(src)[1], rebase if renamed is None else renamed[1])
        try:
            with Progress(ctx, "Copying from container - ", lambda: reader.count, quiet):
                extract(reader, target, renamed)
                reader.drain()
        finally:
            if not quiet:
                ctx.err(f"Successfully copied {human_size(reader.count)} to {dst}")


def _validate_output(path: str) -> None:
    """docker's ``ValidateOutputPath``: the parent must exist; an existing path must be a
    directory or a regular file."""
    parent = os.path.dirname(os.path.normpath(path))
    if parent and parent != "." and not os.path.exists(parent):
        raise StatusError(1, f'invalid output path: directory "{parent}" does not exist')
    if os.path.exists(path) and not (os.path.isdir(path) or os.path.isfile(path)):
        raise StatusError(1, f'invalid output path: "{path}" must be a directory or a '
                             "regular file: got a device")


def _to_container(ctx: Context, archive: ArchiveAPI, src: str, container: str, dst: str,
                  opts: Options, quiet: bool) -> None:
    if src != "-":
        src = local_path(src)
    dst_info = CopyInfo(dst)
    try:
        stat = archive.stat(container, dst)
        if stat.is_symlink:
            target = stat.link_target
            if not target.startswith("/"):
                target = os.path.join(split_dir_entry(dst)[0], target)
            dst_info = CopyInfo(target)
            stat = archive.stat(container, target)
        dst_info = CopyInfo(dst_info.path, True, stat.is_dir)
    except errors.BerthError as err:
        reraise_unreachable(err)  # docker ignores a failed stat: the parent may exist
        # and the extraction will tell
    else:
        odd = ("got a device" if stat.mode & MODE_DEVICE else
               "got an irregular file" if stat.mode & MODE_IRREGULAR else "")
        if odd:  # docker's ValidateOutputPathFileMode
            raise StatusError(1, f'destination "{container}:{dst}" must be a directory or '
                                 f"a regular file: {odd}")
    if src == "-":
        if not dst_info.is_dir:
            raise StatusError(1, f'destination "{container}:{dst}" must be a directory')
        ctx.stdout.flush()
        archive.put(container, dst_info.path, ctx.stdin.buffer,
                    copy_uid_gid=opts.archive)
        return
    src_info = source_info(src, opts.follow_link)
    target, rebase = plan(src_info, dst_info)
    blocks, finish = tar_stream(src_info, rebase)
    total = [0]
    try:
        with contextlib.closing(blocks), \
                Progress(ctx, "Copying to container - ", lambda: total[0], quiet):
            archive.put(container, target, counted(blocks, total), copy_uid_gid=opts.archive)
        finish()
    finally:
        if not quiet:
            ctx.err(f"Successfully copied {human_size(total[0])} to {container}:{dst_info.path}")
