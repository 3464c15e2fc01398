"""Where the unix sockets of shims and runtimes live: short paths, whatever the exec root.

A unix socket's path (``sun_path``) holds at most 107 bytes, and a container's state dir
(``<exec-root>/containers/<64 hex>``) passes that under an exec root of 30 characters. So
the sockets live in one short directory, at names derived from the directory they serve,
as containerd keeps its shims' sockets at ``/run/containerd/s/<sha256>``::

    /run/berth-shim/                 0700
        <key>-shim.sock              a shim's control socket      key: the first 32 hex of
        <key>-attach.sock            its attach socket                 sha256(realpath(state dir))
        <key>-zygote.sock            berthd's zygote                   sha256(realpath(exec root))
        console-XXXXXXXX/            runc's --console-socket, for one create or exec

Derived, not recorded: a restarted berthd finds a running shim's sockets from its state
dir alone (live restore), and two daemons with different exec roots never share a name.
A path that must be chosen by the user (berthd's ``-H unix://PATH``) is checked with
``check_length`` before anything binds it, so it fails with a message instead of a hang.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from berth.errors import InvalidArgument

SOCKET_DIR = Path("/run/berth-shim")
MAX_PATH = 107  # bytes: sun_path is 108, with the terminating NUL


def socket_path(owner: Path, name: str) -> Path:
    """The socket ``name`` of ``owner`` (a state dir, or the exec root for the zygote)."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(owner))).hexdigest()[:32]
    return SOCKET_DIR / f"{key}-{name}"


def make_dir() -> Path:
    """Create SOCKET_DIR (root only: whoever can connect to a shim controls its container)."""
    SOCKET_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    return SOCKET_DIR


def check_length(path: Path | str, what: str = "socket") -> None:
    """InvalidArgument naming ``path`` and the limit when it cannot be a unix socket path."""
    size = len(os.fsencode(path))
    if size > MAX_PATH:
        raise InvalidArgument(
            f"{what} path {path} is {size} bytes long; a unix socket path can have at most "
            f"{MAX_PATH} bytes")
