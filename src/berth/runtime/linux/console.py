"""The container's terminal: a pty allocated inside the container, its master handed out.

runc's ``--console-socket`` model. The pty must come from the container's own devpts
(mounted at ``/dev/pts`` with ``newinstance``), or ``tty`` and ``ttyname`` inside the
container name a host device that does not exist there; so the process that will use it
allocates it after it is in the container's mount namespace, keeps the slave as its
stdio and controlling terminal, and sends the master to the shim over a unix socket::

    shim (caller)                               init / exec process (in the container)
    ─────────────                               ──────────────────────────────────────
    socketpair ── one end inherited ─────────▶  open /dev/ptmx, unlock, TIOCGPTPEER
                                                slave → 0, 1, 2; window size
    recvmsg ◀──── "console" + SCM_RIGHTS(master) ── sendmsg; close master and socket
    resize: TIOCSWINSZ on the master            setsid, TIOCSCTTY (just before exec)
"""

from __future__ import annotations

import array
import fcntl
import os
import socket
import struct
import termios

# Not exported by Python's termios module (asm-generic/ioctls.h).
_TIOCSPTLCK = 0x40045431
_TIOCGPTPEER = 0x5441
RECEIVE_TIMEOUT = 10.0


def open_pty() -> tuple[int, int]:
    """A new (master, slave) pair from ``/dev/ptmx`` of the current mount namespace.

    TIOCGPTPEER opens the slave through the master, not by a path that a container's
    image could have replaced with a symlink."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except BaseException:
        os.close(master)
        raise
    return master, slave


def set_size(fd: int, height: int, width: int) -> None:
    """TIOCSWINSZ; on the master it also sends SIGWINCH to the terminal's foreground group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def setup_in_container(console_socket: int, size: tuple[int, int] | None) -> None:
    """In the container's process: allocate the pty, make the slave fds 0, 1 and 2, send
    the master through ``console_socket`` and close it. The slave becomes the controlling
    terminal later (``take_controlling_terminal``), after the last fork."""
    master, slave = open_pty()
    try:
        if size is not None:
            set_size(slave, *size)
        send_fd(console_socket, master)
        for target in (0, 1, 2):
            os.dup2(slave, target, inheritable=True)
    finally:
        os.close(master)
        os.close(slave)
        os.close(console_socket)


def take_controlling_terminal() -> None:
    """Become a session leader and make fd 0 (a pty slave) the controlling terminal, so
    job control, ^C and /dev/tty work in the container."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def send_fd(sock_fd: int, fd: int) -> None:
    sock = socket.socket(fileno=sock_fd)
    try:
        socket.send_fds(sock, [b"console"], [fd])
    finally:
        sock.detach()  # the caller owns sock_fd


def receive_fd(conn: socket.socket) -> int:
    """Take the one fd sent with SCM_RIGHTS on ``conn`` (waits up to RECEIVE_TIMEOUT)."""
    conn.settimeout(RECEIVE_TIMEOUT)
    fds = array.array("i")
    _, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    if not fds:
        raise OSError("no fd in console message")
    for extra in fds[1:]:
        os.close(extra)
    os.set_inheritable(fds[0], False)
    return fds[0]
