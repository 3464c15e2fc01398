"""``--pid container:<x>`` and ``--ipc container:<x>``: joining another container's
namespace, and a ``shareable`` container's /dev/shm, as a ``ContainerPreparer`` (the
pattern of the network preparer's ``--network container:<x>``)::

    check    x must exist ("No such container: x", 400, as moby's create); the mode is
             recorded as container:<x's id>, so a rename of x does not break it
    prepare  shareable: a tmpfs of its own on the host, <exec root>/shm/<id> (docker's
             ShmPath), bound at /dev/shm (size: --shm-size);
             container:<x>: x must be running (409 "failed to join PID namespace:
             container <id> is not running"); an IPC donor must be shareable (or host),
             as docker's default "private" is not ─▶ spec options: the namespace's path
             /proc/<x's pid>/ns/<type>, and x's /dev/shm (its tmpfs, or the host's)
    release  a shareable container's tmpfs unmounted (lazily: a joiner still running
             keeps its bind of it) and its directory removed; idempotent

``host``, ``private``, ``none`` and ``shareable`` are plain spec options
(``security.with_namespace_modes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from berth.engine.containers.model import Container, ContainerSpec
from berth.engine.containers.resources import DEFAULT_SHM_SIZE
from berth.engine.containers.security import CONTAINER
from berth.errors import Conflict, InvalidArgument, NotFound, RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import host
from berth.runtime.spec import SpecOpt


class ContainerLookup(Protocol):
    def get(self, ref: str) -> Container: ...


class NamespacePreparer:
    def __init__(self, exec_root: Path, containers: ContainerLookup | None = None) -> None:
        self._shm_root = exec_root / "shm"
        self._containers = containers

    def set_containers(self, containers: ContainerLookup) -> None:
        """The container service, made after this preparer (it is one of its hooks)."""
        self._containers = containers

    def _lookup(self) -> ContainerLookup:
        if self._containers is None:
            raise RuntimeError("NamespacePreparer: set_containers was never called")
        return self._containers

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        sec = spec.security
        sec = replace(sec, pid_mode=self._resolved(sec.pid_mode),
                      ipc_mode=self._resolved(sec.ipc_mode))
        return spec if sec == spec.security else replace(spec, security=sec)

    def _resolved(self, mode: str) -> str:
        if not mode.startswith(CONTAINER):
            return mode
        try:
            return CONTAINER + self._lookup().get(mode.removeprefix(CONTAINER)).id
        except NotFound as err:
            raise InvalidArgument(err.message) from err

    async def prepare(self, container: Container) -> Sequence[SpecOpt]:
        c = container
        sec = c.spec.security
        opts = []
        if sec.ipc_mode == "shareable":
            size = c.spec.resources.shm_size or DEFAULT_SHM_SIZE
            opts.append(with_shm(await asyncio.to_thread(self._mount_shm, c.id, size)))
        for ns, what, mode in (("pid", "PID", sec.pid_mode), ("ipc", "IPC", sec.ipc_mode)):
            if mode.startswith(CONTAINER):
                donor = self._donor(mode.removeprefix(CONTAINER), what)
                opts.append(with_namespace_path(ns, f"/proc/{donor.state.pid}/ns/{ns}"))
                if ns == "ipc":
                    shared = (self.shm_path(donor.id) if _ipc_mode(donor) == "shareable"
                              else Path("/dev/shm"))
                    opts.append(with_shm(shared))
        return opts

    def shm_path(self, cid: str) -> Path:
        """docker's ShmPath: a shareable container's /dev/shm on the host."""
        return self._shm_root / cid

    def _mount_shm(self, cid: str, size: int) -> Path:
        path = self.shm_path(cid)
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not host.is_mount_point(path):
                host.mount_filesystem("shm", str(path), "tmpfs",
                                      f"nosuid,nodev,noexec,mode=1777,size={size}")
        except OSError as err:
            raise RuntimeFailure(f"mounting shm tmpfs: {err}") from err
        return path

    def _unmount_shm(self, cid: str) -> None:
        path = self.shm_path(cid)
        if not path.exists():
            return
        while host.is_mount_point(path):
            host.unmount(str(path))
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(path)

    def _donor(self, ref: str, what: str) -> Container:
        """x, or moby's error for joining its namespace."""
        prefix = f"failed to join {what} namespace: "
        try:
            target = self._lookup().get(ref)
        except NotFound as err:
            raise InvalidArgument(prefix + err.message) from err
        if not target.state.running:
            raise Conflict(f"{prefix}container {ref} is not running")
        if what == "IPC" and _ipc_mode(target) not in ("shareable", "host"):
            raise InvalidArgument(f"{prefix}container {ref}: non-shareable IPC (hint: use "
                                  "IpcMode:shareable for the donor container)")
        return target

    async def release(self, container: Container) -> None:
        """A shareable container's tmpfs goes; the namespaces joined are the donor's."""
        await asyncio.to_thread(self._unmount_shm, container.id)

    async def removed(self, container: Container, volumes: bool) -> None:
        """Nothing left: release took the tmpfs."""


def _ipc_mode(c: Container) -> str:
    return c.spec.security.ipc_mode or c.spec.ipc_mode  # a record from before Security


def with_shm(source: Path) -> SpecOpt:
    """``source`` bound at /dev/shm in place of the container's own tmpfs."""
    def apply(spec: oci.Spec) -> None:
        mount: oci.Mount = {"destination": "/dev/shm", "type": "bind", "source": str(source),
                            "options": ["rbind", "rprivate"]}
        mounts = spec["mounts"]
        at = next((i for i, m in enumerate(mounts) if m["destination"] == "/dev/shm"), None)
        if at is None:
            mounts.append(mount)
        else:
            mounts[at] = mount
    return apply


def with_namespace_path(ns_type: str, path: str) -> SpecOpt:
    """Join the namespace at ``path`` instead of making a new one of ``ns_type``."""
    def apply(spec: oci.Spec) -> None:
        spaces = [n for n in spec["linux"]["namespaces"] if n["type"] != ns_type]
        spaces.append({"type": ns_type, "path": path})
        spec["linux"]["namespaces"] = spaces
    return apply
