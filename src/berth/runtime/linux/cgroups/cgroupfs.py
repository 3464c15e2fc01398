"""File operations on a cgroup filesystem, shared by the v1 and v2 managers.

Control files are written in one ``write(2)`` each (the kernel parses per write), never
buffered or truncated in pieces. Plain files behave the same, which is what lets the unit
tests run both managers against a fake tree in a temporary directory.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

# How long destroy() keeps retrying rmdir while killed tasks are still exiting.
_REMOVE_TIMEOUT = 5.0
_POLL = 0.01


def write(path: Path, value: str | int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, str(value).encode())
    except OSError as err:  # the kernel refused the value: say which file
        raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        os.close(fd)


def read(path: Path) -> str:
    return path.read_text().strip()


def read_keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file such as ``memory.events`` or ``memory.oom_control``."""
    result: dict[str, int] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return result
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            result[key] = int(value)
    return result


def read_pids(procs_file: Path) -> list[int]:
    try:
        return [int(line) for line in procs_file.read_text().split()]
    except FileNotFoundError:
        return []


def read_int(path: Path, default: int = 0) -> int:
    try:
        value = read(path)
    except FileNotFoundError:
        return default
    return int(value) if value.lstrip("-").isdigit() else default


def relative_path(cgroups_path: str) -> Path:
    """The OCI ``cgroupsPath`` as a path below a hierarchy root; refuses ``..``."""
    parts = [p for p in cgroups_path.split("/") if p]
    if not parts or ".." in parts:
        raise ValueError(f"invalid cgroupsPath {cgroups_path!r}")
    return Path(*parts)


def kill_all(procs_file: Path) -> None:
    """SIGKILL every task until the cgroup reports none (or the timeout passes).

    Only tasks inside our own cgroup are signalled: the cgroup is the container."""
    deadline = time.monotonic() + _REMOVE_TIMEOUT
    me = os.getpid()
    while (pids := [p for p in read_pids(procs_file) if p > 0 and p != me]) and (
            time.monotonic() < deadline):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(_POLL)


def rmdir_if_empty(path: Path) -> None:
    """rmdir a cgroup that holds no task and no child; a busy or missing one stays as is."""
    try:
        os.rmdir(path)
    except OSError as err:
        if err.errno not in (errno.EBUSY, errno.ENOTEMPTY, errno.ENOENT):
            raise


def remove_tree(path: Path) -> None:
    """rmdir ``path`` and any child cgroups, deepest first; missing is fine, EBUSY (tasks
    still exiting) is retried briefly."""
    if not path.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(path), key=lambda w: -len(w[0])):
        _rmdir_retrying(Path(dirpath))


def _rmdir_retrying(path: Path) -> None:
    deadline = time.monotonic() + _REMOVE_TIMEOUT
    cleared = False
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as err:
            # Children were removed first, so ENOTEMPTY means regular files: a fake tree in
            # unit tests (on cgroupfs, control files never block rmdir).
            if err.errno == errno.ENOTEMPTY and not cleared:
                for child in path.iterdir():
                    if child.is_file():
                        child.unlink()
                cleared = True
                continue
            if err.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(_POLL)
