"""The /proc view of every container: lxcfs's files bound read-only over its
/proc/meminfo, cpuinfo, stat, uptime, loadavg, diskstats, swaps and
/sys/devices/system/cpu/online, so ``free``, ``top``, glibc's CPU count and a JVM size
themselves to the container's memory limit and CPU quota, as LXD's and podman's lxcfs
setups give (docs/design/procview.md). On by default; daemon.toml ``proc_view = false``
or ``berthd --no-proc-view`` turns it off.

    berthd start ─▶ ProcView.start(): lxcfs found and started (or the one a previous
                    berthd left for running containers reused); else off, one warning
    each start   ─▶ ProcViewPreparer.prepare(c) ─▶ ProcView.spec_opts(c): lxcfs alive
                    (restarted, and bound again in running containers, if it died), then
                    with_proc_view: one read-only bind per file, through the OCI spec, so
                    native, runc and crun all get the same
    every 2 s    ─▶ the watch task: the same check, so a dead lxcfs is replaced (and the
                    running containers' files bound again) without waiting for a start
    shutdown     ─▶ ProcView.close(): lxcfs stopped and unmounted unless containers still
                    use it (they outlive berthd; the next berthd reuses it)

A file the container mounts itself (``-v x:/proc/meminfo``) keeps the user's mount.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from berth.engine.containers.model import Container, ContainerSpec
from berth.errors import RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import lxcfs
from berth.runtime.spec import SpecOpt

log = logging.getLogger(__name__)

WATCH_INTERVAL = 2.0  # seconds between two checks that lxcfs is alive


@dataclass(frozen=True)
class ProcViewStatus:
    """What ``info`` shows: ``on`` with lxcfs's version, or off and why."""

    on: bool
    version: str = ""
    reason: str = ""


def with_proc_view(mountpoint: Path, skip: Collection[str] = ()) -> SpecOpt:
    """Bind each of lxcfs's files under ``mountpoint`` read-only over the container's
    own, after the mounts so far (/proc and /sys first), but for those in ``skip``."""
    def apply(spec: oci.Spec) -> None:
        for rel in lxcfs.FILES:
            target = "/" + rel
            if target not in skip:
                spec["mounts"].append({
                    "destination": target, "type": "bind", "source": str(mountpoint / rel),
                    "options": ["bind", "ro", "nosuid", "nodev", "noexec", "rprivate"]})
    return apply


class ProcView:
    """berthd's lxcfs, through ``runtime.lxcfs`` (blocking calls in a thread)."""

    def __init__(self, exec_root: Path, enabled: bool) -> None:
        self._exec_root = exec_root
        self._enabled = enabled
        self._lxcfs: lxcfs.Lxcfs | None = None
        self._watch: asyncio.Task[None] | None = None
        self._status = ProcViewStatus(False, reason="not started")

    @property
    def status(self) -> ProcViewStatus:
        return self._status

    async def start(self) -> None:
        """Start or reuse lxcfs; if it cannot run, the view is off (one warning) and
        berthd goes on."""
        if not self._enabled:
            self._status = ProcViewStatus(False, reason="proc_view = false")
            log.info("the containers' /proc view is off (proc_view = false)")
            return
        binary = lxcfs.find_binary()
        if binary is None:
            self._off("lxcfs is not installed (apt-get install lxcfs)")
            return
        view = lxcfs.Lxcfs(self._exec_root, binary)
        try:
            version = await asyncio.to_thread(lxcfs.version, binary)
            await asyncio.to_thread(view.ensure)
        except (RuntimeFailure, OSError) as err:
            self._off(str(err))
            return
        self._lxcfs = view
        self._status = ProcViewStatus(True, version=version)
        self._watch = asyncio.create_task(self._watch_lxcfs(view))  # cancelled by close

    async def _watch_lxcfs(self, view: lxcfs.Lxcfs) -> None:
        """Replace a dead lxcfs within WATCH_INTERVAL: until then the running containers'
        files read ENOTCONN. A failure is logged once until lxcfs works again."""
        failing = False
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                await asyncio.to_thread(view.ensure)
                failing = False
            except (RuntimeFailure, OSError) as err:
                if not failing:
                    log.error("lxcfs is gone and cannot be restarted: %s", err)
                failing = True

    def _off(self, reason: str) -> None:
        self._status = ProcViewStatus(False, reason=reason)
        log.warning("the containers' /proc view is off: %s; containers see the host's "
                    "/proc/meminfo, cpuinfo and stat", reason)

    async def spec_opts(self, skip: Collection[str] = ()) -> list[SpecOpt]:
        """The container's binds of lxcfs's files, lxcfs (re)started first if it died;
        none when the view is off or lxcfs cannot come back (the container starts with
        the host's /proc, and the error is logged)."""
        if self._lxcfs is None:
            return []
        try:
            await asyncio.to_thread(self._lxcfs.ensure)
        except (RuntimeFailure, OSError) as err:
            log.error("lxcfs is gone and cannot be restarted: %s; this container sees "
                      "the host's /proc", err)
            return []
        return [with_proc_view(self._lxcfs.mountpoint, skip)]

    async def close(self) -> None:
        """At berthd's shutdown: lxcfs stopped and unmounted unless a container still
        binds its files."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._lxcfs is not None:
            try:
                await asyncio.to_thread(self._lxcfs.stop)
            except (RuntimeFailure, OSError) as err:
                log.error("stopping lxcfs: %s", err)
            self._lxcfs = None


class ProcViewPreparer:
    """The ContainerPreparer (engine/containers/preparer.py) that adds the view's binds
    to every container start; nothing to check at create or release at exit."""

    def __init__(self, view: ProcView) -> None:
        self._view = view

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        return spec

    async def prepare(self, container: Container) -> Sequence[SpecOpt]:
        own = {m.target.rstrip("/") for m in container.spec.mounts}
        own |= {m.target.rstrip("/") for m in container.spec.extra_mounts}
        return await self._view.spec_opts(skip=own)

    async def release(self, container: Container) -> None:
        return None

    async def removed(self, container: Container, volumes: bool) -> None:
        return None
