"""An attached session, as ``run`` (without ``-d``) and ``start -a`` drive it.

The order is docker's and matters: a container that exits at once must not lose its
output or its exit status, so both are claimed before it starts::

    attach (hijack) ──▶ POST /wait?condition=next-exit|removed ──▶ start
        ──▶ copy output until the daemon closes the stream ──▶ wait's StatusCode = exit code
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

from berth import errors
from berth.cli.command import Context, StatusError, run_error
from berth.client.hijack import HijackedStream


@dataclass(frozen=True)
class Session:
    ident: str
    tty: bool = False
    stdin: bool = False
    stdout: bool = True
    auto_remove: bool = False
    sig_proxy: bool = True


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
                with contextlib.suppress(errors.BerthError):
                    pending.result()  # docker waits for the removal before reporting
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
    with _raw_terminal(ctx, session), _proxy_signals(ctx, session):
        if session.stdin:
            stream.feed_stdin(ctx.stdin.fileno())
        if session.tty:
            _resize(ctx, session.ident)
        stream.copy_output(ctx.bout, ctx.berr, session.tty)


def _resize(ctx: Context, ident: str) -> None:
    try:
        size = os.get_terminal_size(ctx.stdout.fileno())
    except (OSError, ValueError):
        return  # not a terminal: the container keeps its default size
    with contextlib.suppress(errors.BerthError):
        ctx.client.containers.resize(ident, size.lines, size.columns)


@contextlib.contextmanager
def _raw_terminal(ctx: Context, session: Session) -> Iterator[None]:
    """With ``-it`` on a terminal, keystrokes go to the container unprocessed."""
    if not (session.tty and session.stdin and ctx.stdin.isatty()):
        yield
        return
    import termios
    import tty

    fd = ctx.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _proxy_signals(ctx: Context, session: Session) -> Iterator[None]:
    """Forward SIGINT/SIGTERM to the container (``--sig-proxy``; not with a tty)."""
    if session.tty or not session.sig_proxy:
        yield
        return

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(errors.BerthError):
            ctx.client.containers.kill(session.ident, signal.Signals(signum).name)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
