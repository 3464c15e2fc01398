"""An attached session, as ``run`` (without ``-d``) and ``start -a`` drive it.

The order is docker's and matters: a container that exits at once must not lose its
output or its exit status, so both are claimed before it starts::

    attach (hijack) ──▶ POST /wait?condition=next-exit|removed ──▶ start
        ──▶ copy output until the daemon closes the stream ──▶ wait's StatusCode = exit code
"""

from __future__ import annotations

import os

from berth import errors
from berth.cli.command import Context, StatusError, run_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Callable
    from types import FrameType
    from typing import Any, Final

    from berth.client.hijack import HijackedStream

    Handler = Callable[[int, FrameType | None], Any] | int | _signal.Handlers | None
else:
    # The C half of ``signal``: the Python half only wraps numbers in enums, and importing
    # ``enum`` would cost more than all of ``berth run``'s own modules.
    import _signal

_SIGNAL_NAMES: dict[int, str] = {_signal.SIGINT: "SIGINT", _signal.SIGTERM: "SIGTERM"}


class Session:
    __slots__ = ("auto_remove", "ident", "sig_proxy", "stdin", "stdout", "tty")
    ident: Final[str]
    tty: Final[bool]
    stdin: Final[bool]
    stdout: Final[bool]
    auto_remove: Final[bool]
    sig_proxy: Final[bool]

    def __init__(self, ident: str, tty: bool = False, stdin: bool = False,
                 stdout: bool = True, auto_remove: bool = False,
                 sig_proxy: bool = True) -> None:
        self.ident = ident
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.auto_remove = auto_remove
        self.sig_proxy = sig_proxy


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
    stream = containers.attach(session.ident, stdin=session.stdin) if (
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
            _stream(ctx, session, stream)
        result = pending.result()
    finally:
        if stream is not None:
            stream.close()
    if result.error:
        raise StatusError(125, f"Error waiting for container: {result.error}")
    return result.status_code


def _stream(ctx: Context, session: Session, stream: HijackedStream) -> None:
    saved_terminal: list[Any] | None = None
    previous_handlers: dict[int, Handler] = {}
    try:
        saved_terminal = _raw_terminal(ctx, session)
        previous_handlers = _proxy_signals(ctx, session)
        if session.stdin:
            stream.feed_stdin(ctx.stdin.fileno())
        if session.tty:
            _resize(ctx, session.ident)
        stream.copy_output(ctx.bout, ctx.berr, session.tty)
    finally:
        for signum, handler in previous_handlers.items():
            _signal.signal(signum, handler)
        if saved_terminal is not None:
            import termios

            termios.tcsetattr(ctx.stdin.fileno(), termios.TCSADRAIN, saved_terminal)


def _resize(ctx: Context, ident: str) -> None:
    try:
        size = os.get_terminal_size(ctx.stdout.fileno())
    except (OSError, ValueError):
        return  # not a terminal: the container keeps its default size
    try:
        ctx.client.containers.resize(ident, size.lines, size.columns)
    except errors.BerthError:
        pass  # a failed resize leaves the default size; the session goes on


def _raw_terminal(ctx: Context, session: Session) -> list[Any] | None:
    """With ``-it`` on a terminal, keystrokes go to the container unprocessed; returns
    the settings to restore."""
    if not (session.tty and session.stdin and ctx.stdin.isatty()):
        return None
    import termios
    import tty

    fd = ctx.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    return saved


def _proxy_signals(ctx: Context, session: Session) -> dict[int, Handler]:
    """Forward SIGINT/SIGTERM to the container (``--sig-proxy``; not with a tty); returns
    the handlers to restore."""
    if session.tty or not session.sig_proxy:
        return {}

    def forward(signum: int, _frame: FrameType | None) -> None:
        try:
            ctx.client.containers.kill(session.ident, _SIGNAL_NAMES[signum])
        except errors.BerthError:
            pass  # the container is already gone: nothing to forward to

    return {s: _signal.signal(s, forward) for s in (_signal.SIGINT, _signal.SIGTERM)}
