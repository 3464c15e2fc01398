"""What berthd itself does to the host through the runtime, without reaching into
``runtime.linux`` (the engine may not import it: an import-linter contract).

    CgroupParent   containers' cgroups under ``--cgroup-parent``: a container's path, its
                   tasks (``top``), its usage (``stats``), new limits (``update``), killing
                   what a dead shim left, removing the parent
    cgroup_features()   what the host's cgroups can limit (create's and update's checks)
    system_cpu(), net_counters(pid), machine_memory()
                        the host side of ``stats``: /proc/stat, a netns's counters, MemTotal
    default_seccomp()   docker's default profile, or RuntimeFailure: never dropped silently
    unmount(path)       a lazy unmount (the debootstrap chroot's /proc, /dev, ...)
    mount_filesystem()  mount(8)'s ``-t type -o opts device dir`` (a local volume's -o)
    is_mount_point()    whether a path is a mount point (mountinfo, binds included)

Everything here blocks; the engine calls it through ``asyncio.to_thread``. The
``runtime.linux`` modules are imported on first use, so berthd loads no ctypes or
libseccomp binding it does not need.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from berth.errors import RuntimeFailure
from berth.oci.spec import Resources, Seccomp

TYPE_CHECKING = False
if TYPE_CHECKING:
    # the sample types, re-exported for the engine (which may not import runtime.linux)
    from berth.runtime.linux.cgroups import CgroupFeatures as CgroupFeatures
    from berth.runtime.linux.cgroups.stats import CgroupSample as CgroupSample
    from berth.runtime.linux.cgroups.stats import InterfaceCounters as InterfaceCounters
    from berth.runtime.linux.cgroups.stats import SystemCpu as SystemCpu


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

    def stats(self, cid: str) -> CgroupSample:
        """The container's usage (runtime/linux/cgroups/stats.py); FileNotFoundError
        if its cgroup is gone."""
        from berth.runtime.linux.cgroups.stats import read_cgroup

        return read_cgroup(self.path(cid))

    def update(self, cid: str, resources: Resources) -> None:
        """Change a running container's limits in its cgroup, whatever runtime started it
        (``docker update``); OSError as the kernel refuses a value."""
        from berth.runtime.linux.cgroups import open_manager

        open_manager(self.path(cid)).apply(resources)

    def destroy(self, cid: str) -> None:
        """Kill what is left in the container's cgroup and remove it. Idempotent."""
        from berth.runtime.linux.cgroups import open_manager

        open_manager(self.path(cid)).destroy()

    def release(self) -> None:
        """Remove the parent unless containers still run in it (they outlive berthd)."""
        from berth.runtime.linux.cgroups import open_manager

        open_manager(f"/{self.name}").release()


def cgroup_features() -> CgroupFeatures:
    """What this host's cgroups can limit (moby's sysinfo): checked at create and update."""
    from berth.runtime.linux.cgroups import features

    return features()


def system_cpu() -> SystemCpu:
    """The host's CPU time in ns and its online CPUs, as moby reads /proc/stat."""
    from berth.runtime.linux.cgroups.stats import read_system_cpu

    return read_system_cpu()


def net_counters(pid: int) -> tuple[InterfaceCounters, ...]:
    """The interfaces (but lo) of ``pid``'s network namespace; OSError if it is gone."""
    from berth.runtime.linux.cgroups.stats import read_net_dev

    return read_net_dev(pid)


def machine_memory() -> int:
    """The host's MemTotal in bytes."""
    from berth.runtime.linux.cgroups.stats import machine_memory as mem_total

    return mem_total()


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


def mount_filesystem(device: str, target: str, fstype: str, options: str) -> None:
    """``mount -t fstype -o options device target`` as docker's ``mount.Mount``: flag
    words (ro, bind, nosuid, ...) become flags, the rest the filesystem's data; a bind's
    flags are applied by a remount, which a first bind ignores. OSError on failure."""
    from berth.runtime.linux import syscalls
    from berth.runtime.linux.rootfs import parse_options

    opts = parse_options([o for o in options.split(",") if o])
    bind = opts.flags & syscalls.MS_BIND
    syscalls.mount(device, target, "" if bind else fstype,
                   opts.flags & (syscalls.MS_BIND | syscalls.MS_REC) if bind else opts.flags,
                   "" if bind else opts.data)
    extra = opts.flags & ~(syscalls.MS_BIND | syscalls.MS_REC)
    if bind and extra:
        syscalls.mount("", target, "", syscalls.MS_BIND | syscalls.MS_REMOUNT | extra)
    for flag in opts.propagation:
        syscalls.mount("", target, "", flag)


def is_mount_point(path: Path | str) -> bool:
    """Whether ``path`` is a mount point in this mount namespace (mountinfo's fifth field,
    octal escapes as the kernel writes them; ``os.path.ismount`` misses a bind of a
    directory of the same filesystem)."""
    escaped = str(Path(path).resolve()).replace("\\", "\\134").replace(" ", "\\040") \
        .replace("\t", "\\011").replace("\n", "\\012")
    with open("/proc/self/mountinfo") as f:
        return any(line.split(" ", 5)[4] == escaped for line in f)
