"""The one module that runs ``debootstrap`` (argv lists, its own process group) and owns
its scratch directory.

    <data-root>/bootstrap/debootstrap-XXXX/      scratch(): removed on the way out
        rootfs/                                   debootstrap's target
            proc, sys, dev/*                      may still be mounted if debootstrap died

Checks come first, so a bad request fails before any progress line: debootstrap missing,
a suite it has no script for, a mirror that cannot be reached or lacks the suite. Then
its stdout lines stream to the client. A failed, killed or abandoned run is stopped (the
whole process group) and its tree unmounted (only mounts at or under the scratch
directory, deepest first) and removed; a tree that stays mounted is left in place rather
than recursed into.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from berth.errors import BerthError, InvalidArgument, Unavailable
from berth.runtime import host

from .recipe import BootstrapProgress

log = logging.getLogger(__name__)

SCRIPTS = Path("/usr/share/debootstrap/scripts")
_SUITE_RE = re.compile(r"[a-z][a-z0-9.+-]*")
_PROBE_TIMEOUT = 20.0
_STOP_GRACE = 10.0


@dataclass(frozen=True)
class DebootstrapOptions:
    suite: str
    mirror: str
    target: Path
    variant: str = "minbase"


def binary() -> str:
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if found is None:
        raise BerthError("debootstrap is not installed on the daemon's host: "
                         "install it (apt-get install debootstrap) to bootstrap debian")
    return found


def check_suite(suite: str) -> None:
    if not _SUITE_RE.fullmatch(suite) or not (SCRIPTS / suite).is_file():
        raise InvalidArgument(f"unknown Debian suite {suite!r}: debootstrap has no script "
                              "for it (e.g. bookworm, trixie, bullseye, sid, stable)")


def _probe(url: str) -> int:
    """HTTP status of a HEAD of ``url``; file: URLs are opened instead."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT) as resp:
            return int(resp.status or 200)
    except urllib.error.HTTPError as err:
        return err.code
    except urllib.error.URLError as err:
        if url.startswith("file:"):
            return 404
        raise Unavailable(f"cannot reach the Debian mirror: {err.reason}") from err
    except OSError as err:
        raise Unavailable(f"cannot reach the Debian mirror: {err}") from err


async def check_mirror(mirror: str, suite: str) -> None:
    """The mirror answers and has ``dists/SUITE/InRelease`` (or the older ``Release``)."""
    for name in ("InRelease", "Release"):
        url = f"{mirror}/dists/{suite}/{name}"
        try:
            status = await asyncio.to_thread(_probe, url)
        except Unavailable as err:
            raise Unavailable(f"{err.message} ({url})") from err
        if status < 400:
            return
        if status != 404:
            raise Unavailable(f"the Debian mirror answered {status} for {url}")
    raise InvalidArgument(f"the Debian mirror {mirror} has no suite {suite!r} "
                          f"(no {mirror}/dists/{suite}/InRelease)")


async def run(opts: DebootstrapOptions, progress: BootstrapProgress) -> None:
    """Run debootstrap to completion, sending each output line to ``progress``."""
    argv = [binary(), f"--variant={opts.variant}", opts.suite, str(opts.target), opts.mirror]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True, limit=1 << 20)
    tail: collections.deque[str] = collections.deque(maxlen=20)
    try:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line:
                tail.append(line)
                await progress(line.removeprefix("I: "))
        code = await proc.wait()
    except BaseException:
        await _stop(proc)
        raise
    if code != 0:
        raise BerthError(_failure(opts, code, tail))


def _failure(opts: DebootstrapOptions, code: int, tail: collections.deque[str]) -> str:
    errors = [line for line in tail if line.startswith("E:")]
    shown = (errors or list(tail)[-3:] or ["no output"])[-1]
    logfile = opts.target / "debootstrap" / "debootstrap.log"
    detail = ""
    with contextlib.suppress(OSError):
        detail = " | ".join(logfile.read_text(errors="replace").strip().splitlines()[-3:])
    message = (f"debootstrap {opts.suite} from {opts.mirror} failed (exit status {code}): "
               f"{shown}")
    return f"{message} (log: {detail})" if detail else message


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """TERM, then KILL, the process group debootstrap leads (it was started in a new
    session, so its pgid is its pid and holds only its own children)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), _STOP_GRACE)


@contextlib.asynccontextmanager
async def scratch(parent: Path) -> AsyncIterator[Path]:
    """A fresh scratch directory under ``parent`` (yields ``<it>/rootfs``, not yet
    created); unmounted and removed on the way out, whatever happened."""
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=parent))
    try:
        yield tmp / "rootfs"
    finally:
        try:
            await asyncio.shield(asyncio.to_thread(remove_tree, tmp))
        except (BerthError, OSError) as err:  # keep the build's own error, if any
            log.error("leaving the debootstrap tree %s: %s", tmp, err)


def remove_stale(parent: Path) -> None:
    """Remove every scratch directory under ``parent``: at daemon start none is in use."""
    if not parent.is_dir():
        return
    for stale in sorted(parent.glob("debootstrap-*")):
        try:
            remove_tree(stale)
        except (BerthError, OSError) as err:
            log.error("leaving the stale debootstrap tree %s: %s", stale, err)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo``."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this mount namespace, deepest first."""
    root = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        points = [_unescape(line.split()[4]) for line in f if line.strip()]
    inside = {p for p in points if p == root or p.startswith(root + "/")}
    return sorted(inside, key=lambda p: (-p.count("/"), p))


def remove_tree(path: Path) -> None:
    for _ in range(3):  # a lazy unmount can uncover a mount stacked under it
        mounts = mounts_under(path)
        if not mounts:
            break
        for point in mounts:
            with contextlib.suppress(OSError):
                host.unmount(point)
    still = mounts_under(path)
    if still:
        raise BerthError(f"cannot remove {path}: still mounted at {', '.join(still)}")
    shutil.rmtree(path, ignore_errors=False)
