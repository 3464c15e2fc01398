"""Runtime handler → ``ContainerRuntime``, as the shim resolves ``ShimOptions.runtime``.

Which runtime *names* exist is daemon.py's table (name → handler); the shim only knows
how a handler is made::

    "native"          NativeRuntime(exec_root/native)        runtime.linux in-process
    "runc", "crun"    OciCliRuntime(which(name), exec_root/runtime/<name>)  (any $PATH name)
    "/abs/path"       OciCliRuntime(path, exec_root/runtime/<basename>)  e.g. berth-runtime
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from berth.errors import Conflict, RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import NATIVE, ContainerRuntime
from berth.runtime.oci_cli import OciCliRuntime

if TYPE_CHECKING:
    from berth.runtime.linux.cgroups import CgroupManager

log = logging.getLogger(__name__)


@runtime_checkable
class ConsoleRuntime(Protocol):
    """A runtime that allocates the pty itself, inside the container (runc's
    ``--console-socket``), so the container's ``tty`` names its own ``/dev/pts/N``. The shim
    prefers this to handing the runtime a host pty slave."""

    def create_with_console(self, container_id: str, bundle: Path) -> tuple[int, int]:
        """Create with ``process.terminal``; return (init pid, pty master fd)."""
        ...

    def exec_with_console(self, container_id: str, exec_id: str,
                          process: oci.Process) -> tuple[int, int]:
        """Exec a process with ``terminal``; return (host pid, pty master fd)."""
        ...


def open_runtime(handler: str, exec_root: Path) -> ContainerRuntime:
    """``NATIVE``, or a runc-compatible binary: an absolute path or a ``$PATH`` name."""
    if handler == NATIVE:
        from berth.runtime.linux.runtime import NativeRuntime

        return NativeRuntime(exec_root / "native")
    binary = handler if os.path.isabs(handler) else shutil.which(handler)
    if binary is None:
        raise RuntimeFailure(f"runtime {handler!r} not found in $PATH")
    return OciCliRuntime(binary, exec_root / "runtime" / os.path.basename(binary))


def preload() -> None:
    """Do once, in the zygote, what every forked shim would otherwise redo: import the
    native runtime with the parts it loads lazily (the cgroup managers; pyseccomp, whose
    import runs ``ldconfig -p`` twice to find libseccomp) and compile the default seccomp
    profile (libseccomp takes tens of ms; ``compile_program`` caches by profile, and the
    cache is inherited by every fork)."""
    try:
        import berth.runtime.linux.cgroups.v1
        import berth.runtime.linux.cgroups.v2  # noqa: F401
        from berth.runtime.linux import seccomp
        from berth.runtime.linux.runtime import NativeRuntime  # noqa: F401
    except ImportError as err:
        log.info("native runtime unavailable: %s", err)
        return
    try:
        seccomp.compile_program(seccomp.default_profile())
    except (ImportError, OSError, ValueError) as err:  # no libseccomp: shims report it
        log.warning("precompiling the default seccomp profile failed: %s", err)


@dataclass(frozen=True)
class ContainerCgroup:
    """What the shim itself does to the container's cgroup, whatever the runtime: read its
    OOM kills, freeze and thaw it (runc's pause is the same freezer write)."""

    cgroups_path: str

    def oom_kill_count(self) -> int:
        """OOM kills recorded in the memory cgroup (0 without a cgroups path)."""
        return int(self._manager().oom_kill_count()) if self.cgroups_path else 0

    def freeze(self) -> None:
        """Returns once every task is frozen (v1 FROZEN, v2 cgroup.events frozen 1)."""
        self._manager().freeze()

    def thaw(self) -> None:
        self._manager().thaw()

    def _manager(self) -> CgroupManager:
        if not self.cgroups_path:
            raise Conflict("the container has no cgroup")
        from berth.runtime.linux.cgroups import open_manager

        return open_manager(self.cgroups_path)
