"""Runtime name → ``ContainerRuntime``, as the shim resolves ``ShimOptions.runtime``.

    "native"          NativeRuntime(exec_root/native)        runtime.linux in-process
    "runc", "crun"    OciCliRuntime(which(name), exec_root/runtime/<name>)
    "/abs/path"       OciCliRuntime(path, exec_root/runtime/<basename>)  e.g. berth-runtime
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Protocol, runtime_checkable

from berth.errors import InvalidArgument, RuntimeFailure
from berth.runtime import ContainerRuntime
from berth.runtime.oci_cli import OciCliRuntime

log = logging.getLogger(__name__)

OCI_CLI_NAMES = ("runc", "crun")


@runtime_checkable
class ConsoleRuntime(Protocol):
    """A runtime that allocates the pty itself, inside the container (runc's
    ``--console-socket``), so the container's ``tty`` names its own ``/dev/pts/N``. The shim
    prefers this to handing the runtime a host pty slave."""

    def create_with_console(self, container_id: str, bundle: Path) -> tuple[int, int]:
        """Create with ``process.terminal``; return (init pid, pty master fd)."""
        ...


def open_runtime(name: str, exec_root: Path) -> ContainerRuntime:
    if name == "native":
        from berth.runtime.linux.runtime import NativeRuntime

        return NativeRuntime(exec_root / "native")
    if os.path.isabs(name):
        binary: str | None = name
    elif name in OCI_CLI_NAMES:
        binary = shutil.which(name)
        if binary is None:
            raise RuntimeFailure(f"runtime {name!r} not found in $PATH")
    else:
        raise InvalidArgument(f"unknown runtime {name!r}")
    assert binary is not None
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


def oom_kill_count(cgroups_path: str) -> int:
    """OOM kills recorded in the container's memory cgroup (0 without a cgroups path)."""
    if not cgroups_path:
        return 0
    from berth.runtime.linux.cgroups import open_manager

    return int(open_manager(cgroups_path).oom_kill_count())
