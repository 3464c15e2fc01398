"""Progress streams of pull, push and load, printed as docker's ``jsonmessage`` does.

Without a terminal: one line per status change (``id: status``), messages that carry a
progress bar skipped, an error message ending the command. On a terminal
(``DisplayJSONMessagesStream`` with ``isTerminal``), each id owns a line that later
messages of that id rewrite in place::

    new id     "\n" (a line for it below the others)      ids: {id: line number}
    any id     ESC[<n>A  up to its line (n = lines below it, itself included)
               ESC[2K "\r" "<id>: <status> <bar>\r"      the line cleared and redrawn
               ESC[<n>B  back down
    no id      "<status>\n"; the table of ids starts again (a tag of ``pull -a``, Digest:)

The bar is drawn from ``progressDetail`` at the terminal's width (``JSONProgress.String``),
not taken from the daemon's ``progress`` text.
"""

from __future__ import annotations

import os
import time

from berth.cli.command import StatusError
from berth.cli.output import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import TextIO

    from berth.cli.command import Context
    from berth.client.models import Progress, ProgressDetail

_ESC = "\x1b["
_DEFAULT_WIDTH = 200  # jsonmessage's width when the terminal size is unknown


def display(ctx: Context, stream: Iterable[Progress], quiet: bool = False) -> None:
    """Print ``stream`` as docker does: drawn in place on a terminal, else line by line."""
    if not quiet and ctx.stdout.isatty():
        Terminal(ctx.stdout, _width(ctx.stdout)).show_all(stream)
        return
    for message in stream:
        if message.error:
            raise StatusError(1, message.error)
        if quiet or message.progress or not (message.status or message.stream):
            continue  # a bar (a terminal's), or an aux message
        text = message.stream or message.status
        if message.id and not message.stream:
            text = f"{message.id}: {text}"
        ctx.stdout.write(text if text.endswith("\n") else text + "\n")


def _width(out: TextIO) -> int:
    try:
        return os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError):
        return _DEFAULT_WIDTH


class Terminal:
    """docker's ``DisplayJSONMessagesStream`` for a terminal ``out`` of ``width`` columns."""

    def __init__(self, out: TextIO, width: int, now: float | None = None) -> None:
        self.out = out
        self.width = width
        self.now = now  # a fixed clock for tests; None: the real one
        self._lines: dict[str, int] = {}  # id → its line, counted from the first

    def show_all(self, stream: Iterable[Progress]) -> None:
        for message in stream:
            self.show(message)

    def show(self, m: Progress) -> None:
        if m.aux:
            return
        if m.error:
            self.out.flush()
            raise StatusError(1, m.error)
        below = 0
        if m.id and (m.detail is not None or m.progress):
            line = self._lines.get(m.id)
            if line is None:
                line = self._lines[m.id] = len(self._lines)
                self.out.write("\n")
            below = len(self._lines) - line
            if below:
                self.out.write(f"{_ESC}{below}A")
        else:
            self._lines = {}  # later ids are not updated over earlier output
        self._draw(m)
        if m.id and below:
            self.out.write(f"{_ESC}{below}B")
        self.out.flush()

    def _draw(self, m: Progress) -> None:
        """``JSONMessage.Display`` on a terminal."""
        end = ""
        bar = self.bar(m.detail) if m.detail is not None else ""
        if not m.stream and m.detail is not None:
            end = "\r"
            self.out.write(f"{_ESC}2K\r")
        elif bar:
            return
        if m.id:
            self.out.write(f"{m.id}: ")
        if m.detail is not None:
            self.out.write(f"{m.status} {bar}{end}")
        elif m.progress:
            self.out.write(f"{m.status} {m.progress}{end}")
        elif m.stream:
            self.out.write(m.stream + end)
        else:
            self.out.write(f"{m.status}{end}\n")

    def bar(self, p: ProgressDetail) -> str:
        """``JSONProgress.String``: ``[====>    ]  12.3MB/45.6MB 3s`` as wide as fits."""
        if p.current <= 0 and p.total <= 0:
            return ""
        if p.total <= 0:
            return f"{human_size(p.current, 4):>8}" if not p.units \
                else f"{p.current} {p.units}"
        filled = min(int(p.current / p.total * 100) // 2, 50)
        box = f"[{'=' * filled}>{' ' * (50 - filled)}] " if self.width > 110 else ""
        numbers = ""
        if p.hide_counts:
            pass
        elif not p.units:
            numbers = f"{human_size(p.current, 4):>8}"
            if p.current <= p.total:
                numbers += f"/{human_size(p.total, 4)}"
        else:
            numbers = f"{p.current}/{p.total} {p.units}"
        left = ""
        if p.current > 0 and p.start > 0 and filled < 50 and self.width > 50:
            now = time.time() if self.now is None else self.now
            left = " " + _go_duration(int((p.total - p.current) * (now - p.start)
                                          / p.current))
        return box + numbers + left


def _go_duration(seconds: int) -> str:
    """Go's ``time.Duration.String`` of whole seconds: "0s", "42s", "3m5s", "1h0m0s"."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def split_tag(image: str) -> tuple[str, str]:
    """``name[:tag|@digest]`` → (name, tag or digest); a registry port is not a tag."""
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, digest
    name, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return image, ""


def transfer_reference(ctx: Context, image: str, all_tags: bool,
                       quiet: bool) -> tuple[str, str]:
    """(name, tag) of a ``pull`` or ``push``: the tag given, else "" (every tag) with
    ``--all-tags``, else "latest", said unless ``quiet``; a tag with ``--all-tags`` is an
    error, as docker's."""
    name, tag = split_tag(image)
    if all_tags and tag:
        raise StatusError(1, "berth: tag can't be used with --all-tags/-a")
    if not tag and not all_tags:
        tag = "latest"
        if not quiet:
            ctx.out("Using default tag: latest")
    return name, tag


def canonical(name: str) -> str:
    """``busybox`` → ``docker.io/library/busybox``, as docker prints what it pulled."""
    first, sep, _ = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"docker.io/{name}" if sep else f"docker.io/library/{name}"
