"""``--pid container:<x>`` and ``--ipc container:<x>``: joining another container's
namespace, as a ``ContainerPreparer`` (the pattern of the network preparer's
``--network container:<x>``)::

    check    x must exist ("No such container: x", 400, as moby's create); the mode is
             recorded as container:<x's id>, so a rename of x does not break it
    prepare  x must be running (409 "failed to join PID namespace: container <id> is not
             running"); an IPC donor must be shareable (or host), as docker's default
             "private" is not ─▶ spec option: the namespace's path /proc/<x's pid>/ns/<type>
    release  nothing (the namespace is x's)

``host``, ``private``, ``none`` and ``shareable`` are plain spec options
(``security.with_namespace_modes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from berth.engine.containers.model import Container, ContainerSpec
from berth.engine.containers.security import CONTAINER
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.oci import spec as oci
from berth.runtime.spec import SpecOpt


class ContainerLookup(Protocol):
    def get(self, ref: str) -> Container: ...


class NamespacePreparer:
    def __init__(self, containers: ContainerLookup | None = None) -> None:
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
        sec = container.spec.security
        opts = []
        for ns, what, mode in (("pid", "PID", sec.pid_mode), ("ipc", "IPC", sec.ipc_mode)):
            if mode.startswith(CONTAINER):
                pid = self._donor(mode.removeprefix(CONTAINER), what)
                opts.append(with_namespace_path(ns, f"/proc/{pid}/ns/{ns}"))
        return opts

    def _donor(self, ref: str, what: str) -> int:
        """x's pid, or moby's error for joining its namespace."""
        prefix = f"failed to join {what} namespace: "
        try:
            target = self._lookup().get(ref)
        except NotFound as err:
            raise InvalidArgument(prefix + err.message) from err
        if not target.state.running:
            raise Conflict(f"{prefix}container {ref} is not running")
        ipc = target.spec.security.ipc_mode or target.spec.ipc_mode
        if what == "IPC" and ipc not in ("shareable", "host"):
            raise InvalidArgument(f"{prefix}container {ref}: non-shareable IPC (hint: use "
                                  "IpcMode:shareable for the donor container)")
        return target.state.pid

    async def release(self, container: Container) -> None:
        """Nothing: the namespaces joined are the donor's."""

    async def removed(self, container: Container, volumes: bool) -> None:
        """Nothing to let go of."""


def with_namespace_path(ns_type: str, path: str) -> SpecOpt:
    """Join the namespace at ``path`` instead of making a new one of ``ns_type``."""
    def apply(spec: oci.Spec) -> None:
        spaces = [n for n in spec["linux"]["namespaces"] if n["type"] != ns_type]
        spaces.append({"type": ns_type, "path": path})
        spec["linux"]["namespaces"] = spaces
    return apply
