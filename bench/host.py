"""The host state a benchmark run touches: processes it started, mounts left under its work
dir, cgroups it named. Cleanup only ever acts on what names our private work dir or tag."""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MNT_DETACH = 2


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run_checked(argv: Sequence[str], timeout: float = 300,
                env: dict[str, str] | None = None, stdin: Any = None) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              env=env, stdin=stdin, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BenchError(f"{' '.join(argv)}: {err}") from err
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- processes, mounts, cgroups -------------------------------------------------------

def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still answers kill(0)
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line names our private work dir: only we started those."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            if marker in cmdline(int(entry.name)):
                pids.append(int(entry.name))
    return pids


def stop_pid(pid: int, what: str, marker: str, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; only if the pid still runs our command."""
    if not alive(pid) or marker not in cmdline(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        log(f"{what} (pid {pid}) ignored SIGTERM for {timeout:.0f}s: SIGKILL")
        os.kill(pid, signal.SIGKILL)


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mountinfo() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount in our namespace."""
    rows = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        rows.append((_unescape(left.split()[4]), right.split()[0]))
    return rows


def unmount_under(root: Path) -> list[str]:
    """Detach every mount at or below ``root``, deepest first; return what stays mounted."""
    libc = ctypes.CDLL(None, use_errno=True)
    prefix = str(root).rstrip("/") + "/"
    for _ in range(5):  # a lazy unmount can uncover a mount below it
        points = sorted({m for m, _ in mountinfo() if (m + "/").startswith(prefix)},
                        key=len, reverse=True)
        if not points:
            return []
        for point in points:
            if libc.umount2(point.encode(), MNT_DETACH) != 0:
                log(f"umount {point}: {os.strerror(ctypes.get_errno())}")
    return [m for m, _ in mountinfo() if (m + "/").startswith(prefix)]


def remove_cgroups(prefix: str) -> list[str]:
    """rmdir every cgroup directory named ``prefix*`` in every hierarchy, leaves first.

    Searched at any depth: dockerd makes a relative ``--cgroup-parent`` under its own
    cgroup, which is the starting process's (on this host, a memory cgroup of the
    session's), not under the hierarchy's root."""
    left = []
    for point, fstype in mountinfo():
        if fstype not in ("cgroup", "cgroup2"):
            continue
        tops = []
        for dirpath, dirnames, _ in os.walk(point):
            tops += [os.path.join(dirpath, d) for d in dirnames if d.startswith(prefix)]
            dirnames[:] = [d for d in dirnames if not d.startswith(prefix)]
        for top in tops:
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError as err:
                    left.append(f"{dirpath}: {err.strerror}")
    return left
