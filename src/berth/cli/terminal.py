"""The local terminal during an attached session: raw mode, its size, and the detach keys.

With ``-it`` the keystrokes must reach the container unprocessed (Ctrl-C is a byte for the
container's shell, not SIGINT for us), so the local tty goes into raw mode for the session
and comes back on every way out: normal return, an exception, and SIGTERM/SIGHUP (whose
default action would kill us with the terminal still raw; here they raise instead, so the
``finally`` blocks run). The terminal's size follows SIGWINCH to the daemon.

Detaching is the client's job, as in docker's CLI: only a raw terminal is watched, and
only keys typed on their own (a read that is, or continues, a prefix of the sequence)
count, so pasted text that happens to contain Ctrl-P never detaches.
"""

from __future__ import annotations

import os

from berth.cli.command import StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Callable
    from types import FrameType, TracebackType
    from typing import Any

    Handler = Callable[[int, FrameType | None], Any] | int | _signal.Handlers | None
else:
    import _signal  # the C half of ``signal``: its Python half imports ``enum``

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"

# moby/term's ASCII table: "ctrl-@" is 0, "ctrl-a" 1 ... "ctrl-_" 31.
_CONTROL_NAMES = ["ctrl-@", *(f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)),
                  "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]


def detach_key_bytes(keys: str) -> bytes:
    """moby/term ``ToBytes``: "ctrl-p,ctrl-q" -> b"\\x10\\x11"; single characters stand for
    themselves, "DEL" is 127; anything else raises ``ValueError`` with docker's words."""
    codes = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            codes += key.encode()[:1]
        elif key in _CONTROL_NAMES:
            codes.append(_CONTROL_NAMES.index(key))
        elif key == "DEL":
            codes.append(127)
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(codes)


class EscapeProxy:
    """Watches stdin reads for the detach sequence. ``feed`` returns the bytes to send
    on, or None once the whole sequence was typed. A partial match is held back until
    the next read shows whether it was the sequence; if not, it is sent after all."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> bytes | None:
        if not self.keys:
            return data
        candidate = self._held + data
        if candidate == self.keys:
            return None
        if self.keys.startswith(candidate):
            self._held = candidate
            return b""
        self._held = b""
        return candidate


def check_tty(stdin_attached: bool, tty: bool, stdin_is_tty: bool) -> None:
    """docker's ``CheckTty``: ``-it`` needs a terminal to read from."""
    if stdin_attached and tty and not stdin_is_tty:
        raise StatusError(1, "the input device is not a TTY")


def size(fd: int) -> tuple[int, int] | None:
    """(height, width) of the terminal on ``fd``, or None if it is not one."""
    try:
        got = os.get_terminal_size(fd)
    except (OSError, ValueError):
        return None
    if got.lines == 0 and got.columns == 0:
        return None  # a pty nobody sized yet: sending 0x0 would only shrink the container's
    return got.lines, got.columns


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    # 128+N is how a shell reports death by signal N; raising lets ``finally`` restore.
    raise StatusError(128 + signum)


class Terminal:
    """``with Terminal(fd, on_resize):`` raw mode on ``fd`` (None: leave the terminal
    alone) and ``on_resize`` called on SIGWINCH, both undone on exit."""

    def __init__(self, raw_fd: int | None, on_resize: Callable[[], None] | None = None,
                 ) -> None:
        self._fd = raw_fd
        self._on_resize = on_resize
        self._saved: list[Any] | None = None
        self._handlers: dict[int, Handler] = {}

    def __enter__(self) -> Terminal:
        try:
            if self._fd is not None:
                import termios
                import tty

                for signum in (_signal.SIGTERM, _signal.SIGHUP):
                    self._handlers[signum] = _signal.signal(signum, _raise_exit)
                self._saved = termios.tcgetattr(self._fd)
                # TCSANOW: the default TCSAFLUSH would drop keys typed ahead of the session
                tty.setraw(self._fd, termios.TCSANOW)
            on_resize = self._on_resize
            if on_resize is not None:
                self._handlers[_signal.SIGWINCH] = _signal.signal(
                    _signal.SIGWINCH, lambda _n, _f: on_resize())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def restore(self) -> None:
        """Back to the saved mode (once): as soon as the output ends, so that whatever
        is printed next looks normal."""
        saved, self._saved = self._saved, None
        if saved is not None and self._fd is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, saved)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            self.restore()
        finally:
            handlers, self._handlers = self._handlers, {}
            for signum, handler in handlers.items():
                _signal.signal(signum, handler)
