"""What berthd itself does to the host through the runtime, without reaching into
``runtime.linux`` (the engine may not import it: an import-linter contract).

    CgroupParent   containers' cgroups under ``--cgroup-parent``: a container's path, its
                   tasks (``top``), killing what a dead shim left, removing the parent
    default_seccomp()   docker's default profile, or RuntimeFailure: never dropped silently
    unmount(path)       a lazy unmount (the debootstrap chroot's /proc, /dev, ...)

Everything here blocks; the engine calls it through ``asyncio.to_thread``. The
``runtime.linux`` modules are imported on first use, so berthd loads no ctypes or
libseccomp binding it does not need.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.errors import RuntimeFailure
from berth.oci.spec import Seccomp


@dataclass(frozen=True)
class CgroupParent:
    """The cgroup every container of this daemon lives under (``berth`` by default, so
    docker's ``docker/`` tree is never touched): ``/<name>/<container id>``."""

    name: str = "berth"

    def path(self, cid: str) -> str:
        """The container's ``cgroupsPath``, below the hierarchy's root."""
        return f"/{self.name}/{cid}"

    def pids(self, cid: str) -> list[int]:
        """The container's tasks; OSError if its cgroup is gone."""
        from berth.runtime.linux.cgroups import open_manager

        return open_manager(self.path(cid)).pids()

    def destroy(self, cid: str) -> None:
        """Kill what is left in the container's cgroup and remove it. Idempotent."""
        from berth.runtime.linux.cgroups import open_manager

        open_manager(self.path(cid)).destroy()

    def release(self) -> None:
        """Remove the parent unless containers still run in it (they outlive berthd)."""
        from berth.runtime.linux.cgroups import open_manager

        open_manager(f"/{self.name}").release()


def default_seccomp() -> Seccomp:
    """Docker's default profile (a fresh copy). A default the user did not turn off is
    never dropped: if it cannot be loaded, this raises and the container does not start."""
    try:
        from berth.runtime.linux.seccomp import default_profile

        return default_profile()
    except (ImportError, OSError, ValueError) as err:
        raise RuntimeFailure(
            f"cannot load the default seccomp profile ({err}): refusing to start a "
            "container without it") from err


def unmount(path: str) -> None:
    """Detach the mount at ``path`` (MNT_DETACH: busy mounts go when their users do)."""
    from berth.runtime.linux import syscalls

    syscalls.umount2(path, syscalls.MNT_DETACH)
