"""The proc view's spec option and preparer (no root, no lxcfs): the binds it adds, what a
container mounts itself kept, nothing at all when the view is off. Its real behaviour,
lxcfs included, is tests/compat/test_procview.py's."""

from __future__ import annotations

import asyncio
from pathlib import Path

from berth.engine.containers.model import Container, ContainerSpec, MountSpec
from berth.engine.containers.procview import ProcView, ProcViewPreparer, with_proc_view
from berth.oci.mount import Mount
from berth.runtime import lxcfs
from berth.runtime import spec as runtime_spec

MOUNTPOINT = Path("/run/berth/lxcfs")


def _container(spec: ContainerSpec) -> Container:
    return Container(
        id="ab" * 32, name="c", created="2024-01-01T00:00:00Z", spec=spec,
        image_id="sha256:" + "1" * 64, path="sh", args=(), cmd=("sh",), entrypoint=None,
        labels=(), env=(), working_dir="/", user="", hostname="c", runtime="native",
        log_path="")


def test_each_lxcfs_file_is_bound_read_only_after_proc_and_sys() -> None:
    spec = runtime_spec.generate(Path("/rootfs"), [with_proc_view(MOUNTPOINT)])
    destinations = [m["destination"] for m in spec["mounts"]]
    binds = spec["mounts"][-len(lxcfs.FILES):]
    assert [m["destination"] for m in binds] == ["/" + f for f in lxcfs.FILES]
    assert destinations.index("/proc") < destinations.index("/proc/meminfo")
    assert destinations.index("/sys") < destinations.index("/sys/devices/system/cpu/online")
    meminfo = next(m for m in binds if m["destination"] == "/proc/meminfo")
    assert meminfo == {"destination": "/proc/meminfo", "type": "bind",
                       "source": "/run/berth/lxcfs/proc/meminfo",
                       "options": ["bind", "ro", "nosuid", "nodev", "noexec", "rprivate"]}
    assert {"/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime", "/proc/loadavg",
            "/proc/diskstats", "/proc/swaps",
            "/sys/devices/system/cpu/online"} == {m["destination"] for m in binds}


def test_a_file_in_skip_is_left_to_the_container() -> None:
    spec = runtime_spec.generate(Path("/rootfs"),
                                 [with_proc_view(MOUNTPOINT, skip={"/proc/meminfo"})])
    destinations = [m["destination"] for m in spec["mounts"]]
    assert "/proc/meminfo" not in destinations and "/proc/cpuinfo" in destinations


def test_the_preparer_adds_nothing_when_the_view_is_off(tmp_path: Path) -> None:
    view = ProcView(tmp_path, enabled=False)
    asyncio.run(view.start())
    assert not view.status.on and view.status.reason == "proc_view = false"
    c = _container(ContainerSpec(
        image="busybox", mounts=(MountSpec("bind", "/proc/meminfo", "/tmp/m"),),
        extra_mounts=(Mount("bind", "/x", ("rbind",), target="/proc/stat/"),)))
    assert asyncio.run(ProcViewPreparer(view).prepare(c)) == []
    assert asyncio.run(ProcViewPreparer(view).check(c.spec)) is c.spec
