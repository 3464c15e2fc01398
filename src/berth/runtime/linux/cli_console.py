"""``process.terminal`` for ``berth-runtime``, as runc handles it.

The pty is always allocated inside the container (``NativeRuntime.create_with_console``
and ``exec_with_console`` hand back its master); what the CLI does with the master::

    --console-socket PATH   (create, run -d, exec -d only) connect to PATH and send the
                            master with SCM_RIGHTS (runc's ``utils.SendFd``: one message
                            "/dev/ptmx" carrying the fd); the caller owns the terminal
    foreground, no socket   runc's own terminal: our stdin (raw if it is a tty) is copied
                            to the master and the master to our stdout, until the
                            container's side closes; SIGWINCH resizes
    detached, no socket     refused: nobody would hold the master

The rules, with runc's messages, are ``check_terminal``. A foreground ``run`` or ``exec``
also forwards the signals it gets to the process and exits with its status (``wait``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import termios
import threading
import tty
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from berth.runtime.linux import console
from berth.runtime.linux.cli_log import CommandError, log

PTMX_NAME = b"/dev/ptmx"
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
              signal.SIGUSR2)


def check_terminal(terminal: bool, detach: bool, console_socket: str | None) -> None:
    """runc's ``validateProcessSpec``/``runner`` checks before anything is started."""
    if terminal and detach and not console_socket:
        raise CommandError("cannot allocate tty if runc will detach without setting "
                           "console socket")
    if console_socket and (not detach or not terminal):
        raise CommandError("cannot use console socket if runc will not detach or "
                           "allocate tty")


def connect(path: str) -> socket.socket:
    """The caller's console socket, connected before anything starts (as runc)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        raise CommandError(f"dial unix {path}: connect: "
                           f"{os.strerror(err.errno or 0).lower()}") from None
    return sock


def send_master(sock: socket.socket, master: int) -> None:
    """Hand the pty master to the console socket's owner and let go of it."""
    try:
        socket.send_fds(sock, [PTMX_NAME], [master])
    finally:
        os.close(master)
        sock.close()


def require_controlling_terminal() -> None:
    """runc's foreground terminal starts from the caller's ``/dev/tty``; without one it
    fails the same way."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise CommandError(f"open /dev/tty: {os.strerror(err.errno or 0).lower()}") from None
    os.close(fd)


def proxy(master: int) -> None:
    """Copy stdin → master and master → stdout until the container's side of the pty
    is gone (read gives EIO or EOF). stdin is in raw mode meanwhile when it is a tty."""
    with _raw(0), _winch(master):
        pump = threading.Thread(target=_copy_stdin, args=(master,), daemon=True)
        pump.start()
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break  # EIO: every slave fd is closed
            if not data:
                break
            _write_all(1, data)


def _copy_stdin(master: int) -> None:
    while True:
        try:
            data = os.read(0, 65536)
        except OSError:
            return
        if not data:
            return  # EOF on our stdin: the container keeps running (runc does the same)
        try:
            _write_all(master, data)
        except OSError:
            return


def _write_all(fd: int, data: bytes) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # not TCSAFLUSH: what was typed already still counts
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _winch(master: int) -> Iterator[None]:
    """Keep the container's terminal the size of ours (now and on SIGWINCH)."""

    def resize(_signum: int = 0, _frame: FrameType | None = None) -> None:
        for fd in (0, 1):
            if os.isatty(fd):
                size = os.get_terminal_size(fd)
                with contextlib.suppress(OSError):
                    console.set_size(master, size.lines, size.columns)
                return

    resize()
    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def write_pid_file(path: Path, pid: int) -> None:
    """Written whole or not at all (runc's createPidFile: a temporary name, then rename)."""
    tmp = path.with_name("." + path.name)
    tmp.write_text(str(pid))
    os.rename(tmp, path)


def forward_signals(pid: int) -> None:
    """What the CLI receives while it waits goes to the process (runc's signalHandler)."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in _FORWARDED:
        signal.signal(sig, forward)


def wait(pid: int, master: int | None) -> int:
    """Proxy the terminal if we hold it, reap the process; its status as runc exits with
    it (128+N for a signal). Needs the caller to be pid's parent or subreaper."""
    try:
        if master is not None:
            proxy(master)
        _, status = os.waitpid(pid, 0)
    finally:
        if master is not None:
            os.close(master)
    code = os.waitstatus_to_exitcode(status)
    log.debug("process exited: pid %d, status %d", pid, code)
    return 128 - code if code < 0 else code
