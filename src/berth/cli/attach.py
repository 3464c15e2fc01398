"""Attached sessions: ``pump``, the one stdin/output copier every hijacked stream uses
(``run``, ``start -a``, ``attach``, ``exec``), and the session ``run``/``start -a`` drive.

The order is docker's and matters: a container that exits at once must not lose its
output or its exit status, so both are claimed before it starts::

    attach (hijack) ──▶ POST /wait?condition=next-exit|removed ──▶ start
        ──▶ copy output until the daemon closes the stream ──▶ wait's StatusCode = exit code

Typing the detach keys ends the copy early; ``run`` and ``start`` then exit 0 quietly
and leave the container running, as docker's do.
"""

from __future__ import annotations

import time

from berth import errors
from berth.cli.command import Context, StatusError, run_error
from berth.cli.terminal import (
    DEFAULT_DETACH_KEYS,
    EscapeProxy,
    Terminal,
    detach_key_bytes,
)
from berth.cli.terminal import size as terminal_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Callable
    from types import FrameType
    from typing import Any, Final, Protocol

    from berth.client.hijack import HijackedStream

    Handler = Callable[[int, FrameType | None], Any] | int | _signal.Handlers | None

    class Resizer(Protocol):
        def __call__(self, retries: int = 1) -> None: ...
else:
    # The C half of ``signal``: the Python half only wraps numbers in enums, and importing
    # ``enum`` would cost more than all of ``berth run``'s own modules.
    import _signal

_SIGNAL_NAMES: dict[int, str] = {_signal.SIGINT: "SIGINT", _signal.SIGTERM: "SIGTERM"}


class StreamIO:
    """What one hijacked stream carries: a tty (raw bytes) or not (stdcopy frames),
    whether our stdin feeds it, the detach keys, and where a terminal size goes."""

    __slots__ = ("detach_keys", "resize", "stdin", "tty")
    tty: Final[bool]
    stdin: Final[bool]
    detach_keys: Final[str]
    resize: Final[Callable[[int, int], None] | None]

    def __init__(self, tty: bool = False, stdin: bool = False, detach_keys: str = "",
                 resize: Callable[[int, int], None] | None = None) -> None:
        self.tty = tty
        self.stdin = stdin
        self.detach_keys = detach_keys
        self.resize = resize


class Session:
    """A container to attach to, as ``run`` and ``start -a`` start it."""

    __slots__ = ("auto_remove", "detach_keys", "ident", "sig_proxy", "stdin", "stdout",
                 "tty")
    ident: Final[str]
    tty: Final[bool]
    stdin: Final[bool]
    stdout: Final[bool]
    auto_remove: Final[bool]
    sig_proxy: Final[bool]
    detach_keys: Final[str]

    def __init__(self, ident: str, tty: bool = False, stdin: bool = False,
                 stdout: bool = True, auto_remove: bool = False,
                 sig_proxy: bool = True, detach_keys: str = "") -> None:
        self.ident = ident
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.auto_remove = auto_remove
        self.sig_proxy = sig_proxy
        self.detach_keys = detach_keys


def start_exit_code(err: errors.BerthError) -> int:
    """docker's ``runStartContainerErr``: 127 for a missing command, 126 for one that
    cannot be executed, 125 for anything else."""
    text = err.message
    if "executable file not found" in text or "no such file or directory" in text:
        return 127
    if "permission denied" in text or "is a directory" in text:
        return 126
    return 125


def start_detached(ctx: Context, ident: str) -> None:
    try:
        ctx.client.containers.start(ident)
    except errors.BerthError as err:
        raise run_error(ctx.path, err, start_exit_code(err)) from err


def run_attached(ctx: Context, session: Session) -> int:
    """Attach, register the wait, start, stream, and return the container's exit code."""
    containers = ctx.client.containers
    stream = containers.attach(session.ident, stdin=session.stdin,
                               detach_keys=session.detach_keys) if (
        session.stdin or session.stdout) else None
    condition = "removed" if session.auto_remove else "next-exit"
    try:
        pending = containers.wait_pending(session.ident, condition)
        try:
            containers.start(session.ident)
        except errors.BerthError as err:
            if session.auto_remove:
                try:
                    pending.result()  # docker waits for the removal before reporting
                except errors.BerthError:
                    pass  # the start failure is what gets reported
            raise run_error(ctx.path, err, start_exit_code(err)) from err
        if stream is not None:
            io = StreamIO(session.tty, session.stdin, session.detach_keys,
                          lambda h, w: containers.resize(session.ident, h, w))
            if stream_with_signals(ctx, stream, io, session.ident, session.sig_proxy):
                pending.close()
                return 0  # detached: docker's run and start say nothing and exit 0
        result = pending.result()
    finally:
        if stream is not None:
            stream.close()
    if result.error:
        raise StatusError(125, f"Error waiting for container: {result.error}")
    return result.status_code


def pump(ctx: Context, stream: HijackedStream, io: StreamIO) -> bool:
    """Copy our stdin to the stream and its output to ours until the output ends;
    True if the user typed the detach keys instead. ``run``, ``start -a``, ``attach``
    and ``exec`` all go through here (docker's ``hijackedIOStreamer``)::

        stdin thread:  os.read(0) -> EscapeProxy (raw tty only) -> socket; EOF: SHUT_WR
                                         detach keys: SHUT_RDWR, which ends ...
        main thread:   socket -> stdout/stderr (demuxed unless tty) until EOF
                       SIGWINCH -> io.resize(h, w)
    """
    stdin_fd = ctx.stdin.fileno() if io.stdin else -1
    raw = io.tty and io.stdin and ctx.stdin.isatty()
    resize = _resizer(ctx, io.resize) if io.tty and io.resize is not None else None
    with Terminal(stdin_fd if raw else None, resize) as terminal:
        if resize is not None:
            resize(retries=5)
        if io.stdin:
            escape = None
            if raw:
                try:
                    keys = detach_key_bytes(io.detach_keys or DEFAULT_DETACH_KEYS)
                except ValueError:  # docker warns and falls back; the daemon refuses it
                    keys = detach_key_bytes(DEFAULT_DETACH_KEYS)
                escape = EscapeProxy(keys).feed
            stream.feed_stdin(stdin_fd, escape)
        stream.copy_output(ctx.bout, ctx.bout if io.tty else ctx.berr, io.tty)
        terminal.restore()
    return stream.detached


def _resizer(ctx: Context, send: Callable[[int, int], None]) -> Resizer | None:
    """Sends our terminal's size to the daemon (nothing if stdout is no terminal)."""
    try:
        fd = ctx.stdout.fileno()
    except (OSError, ValueError):
        return None
    if not ctx.stdout.isatty():
        return None

    def resize(retries: int = 1) -> None:
        for attempt in range(retries):
            dims = terminal_size(fd)
            if dims is None:
                return
            try:
                send(*dims)
                return
            except errors.BerthError:
                # At start the process may not be running yet: docker retries too.
                time.sleep(0.01 * (attempt + 1))

    return resize


def stream_with_signals(ctx: Context, stream: HijackedStream, io: StreamIO, ident: str,
                        sig_proxy: bool) -> bool:
    """``pump``, forwarding SIGINT/SIGTERM to the container meanwhile (``--sig-proxy``;
    never with a tty, whose Ctrl-C is a byte for the container). True if detached."""
    previous: dict[int, Handler] = {}
    if sig_proxy and not io.tty:
        def forward(signum: int, _frame: FrameType | None) -> None:
            try:
                ctx.client.containers.kill(ident, _SIGNAL_NAMES[signum])
            except errors.BerthError:
                pass  # the container is already gone: nothing to forward to

        previous = {s: _signal.signal(s, forward) for s in (_signal.SIGINT, _signal.SIGTERM)}
    try:
        return pump(ctx, stream, io)
    finally:
        for signum, handler in previous.items():
            _signal.signal(signum, handler)
