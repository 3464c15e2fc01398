"""A shim's claim on a container id in its runtime: from before ``runtime.create`` until
``runtime.delete`` has removed the container's cgroup and runtime state.

The shim answers ``wait`` and closes attach streams *before* it deletes (a few ms of
cgroup rmdirs off the path of ``docker run``), so berthd may already be starting the same
container again (a restart policy, ``docker start``) while the old shim still deletes. Both
would work on the same cgroup path and runtime state: the old delete would kill and rmdir
the new container's cgroup. The claim serializes them::

    <exec-root>/claims/<id>     an empty file, flock(LOCK_EX) by the shim holding the id;
                                its text names the runtime ("native", "runc", a path)

    old shim                                  new shim (same id)
    ────────                                  ──────────────────
    holds the lock (since its create)         open claims/<id>; flock … waits
    exit.json, answer wait, close streams
    runtime.delete; unlink claims/<id>; close
                                              lock granted on the unlinked inode: retry,
                                              O_CREAT|O_EXCL a fresh file, lock it, create

A claim file that exists while nobody holds its lock was left by a shim that died before
its delete finished (``stale``): the next shim for that id runs ``runtime.delete`` (which
is idempotent) before its create, so the leftover cgroup and runtime state go then. Unlink
only after a successful delete keeps that true when the delete itself fails.

berthd does the same at once when it sees a shim die without recording an exit
(``reclaim``): the container is then recorded exited and may be removed, and nothing of it
may stay behind until a next start that never comes.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import time
from pathlib import Path

from berth.errors import BerthError, Conflict
from berth.runtime import ContainerRuntime
from berth.runtime.shim.runtimes import open_runtime

log = logging.getLogger(__name__)

CLAIMS_DIR = "claims"
HANDOVER_TIMEOUT = 10.0  # a previous shim's delete takes ms; a live one never lets go
_POLL = 0.001


class Claim:
    """Held by one shim; ``delete`` removes the container from the runtime and lets go."""

    def __init__(self, path: Path, fd: int, runtime: ContainerRuntime,
                 container_id: str) -> None:
        self.path = path
        self.runtime = runtime
        self.container_id = container_id
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def delete(self) -> None:
        """``runtime.delete``, then release. Idempotent; failures are logged (the claim
        then stays on disk, stale, so the next shim for this id deletes again)."""
        if self._fd < 0:
            return
        try:
            self.runtime.delete(self.container_id)
        except BerthError as err:
            log.warning("runtime delete failed: %s", err)
        else:
            self.path.unlink(missing_ok=True)  # under the lock: see the module docstring
        os.close(self._fd)
        self._fd = -1


def acquire(exec_root: Path, container_id: str, runtime_name: str,
            runtime: ContainerRuntime) -> Claim:
    """Take the claim on ``container_id``, waiting for a previous shim to finish its
    delete; clean up after one that died first. Conflict if the id stays held."""
    directory = exec_root / CLAIMS_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / container_id
    deadline = time.monotonic() + HANDOVER_TIMEOUT
    while True:
        fd, fresh = _open(path)
        if fd < 0:
            continue  # unlinked between our two opens: try again
        if not _lock(fd, deadline):
            os.close(fd)
            raise Conflict(f"container {container_id} is still held by another shim")
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder finished and unlinked it
    claim = Claim(path, fd, runtime, container_id)
    if not fresh:
        log.warning("a previous shim of %s died before deleting it: deleting now",
                    container_id)
        try:
            runtime.delete(container_id)
        except BerthError:
            os.close(fd)
            raise
    os.ftruncate(fd, 0)
    os.write(fd, runtime_name.encode())
    return claim


def reclaim(exec_root: Path, container_id: str) -> None:
    """Take the claim a dead shim left on ``container_id`` and delete the container from
    the runtime the claim names (what is left of its processes, its cgroup, its runtime
    state). Nothing to do without a claim; Conflict if a live shim still holds it."""
    path = exec_root / CLAIMS_DIR / container_id
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    try:
        # The dying shim's fds close one by one: its lock may outlast its sockets briefly.
        if not _lock(fd, time.monotonic() + HANDOVER_TIMEOUT):
            raise Conflict(f"container {container_id} is still held by a live shim")
        if not _same_file(fd, path):
            return  # its holder finished its delete and unlinked it
        runtime_name = os.pread(fd, 4096, 0).decode()
        if not runtime_name:  # the shim died inside acquire: it created nothing
            path.unlink(missing_ok=True)
            return
        claim = Claim(path, fd, open_runtime(runtime_name, exec_root), container_id)
        fd = -1  # the claim's now: delete closes it
        claim.delete()
    finally:
        if fd >= 0:
            os.close(fd)


def _open(path: Path) -> tuple[int, bool]:
    """(fd, created by us), or (-1, False) if it vanished in between."""
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600), True
    except FileExistsError:
        pass
    try:
        return os.open(path, flags), False
    except FileNotFoundError:
        return -1, False


def _lock(fd: int, deadline: float) -> bool:
    # Polled rather than blocking, so a shim that never lets go (its container still runs)
    # turns into a Conflict instead of a create that hangs.
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
