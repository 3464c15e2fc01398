"""docker's checks of a container's resources (moby verifyPlatformContainerResources) and
the spec they make, against given kernel features (no host cgroups read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.engine.containers import resources
from berth.engine.containers.model import Container, ContainerSpec
from berth.engine.containers.resources import (
    DeviceMapping,
    Resources,
    ThrottleDevice,
    Ulimit,
    adapt,
    verify,
)
from berth.errors import InvalidArgument, RuntimeFailure
from berth.runtime import spec as runtime_spec
from berth.runtime.linux.cgroups import CgroupFeatures

V1 = CgroupFeatures(version=1, cpus="0-1", mems="0")
V1_NO_WEIGHT = CgroupFeatures(version=1, cpus="0-1", mems="0", blkio_weight=False,
                              blkio_weight_device=False)
V2 = CgroupFeatures(version=2, swappiness=False, oom_kill_disable=False, cpus="0-1",
                    mems="0", device_rules=False)
MB = 1 << 20


def _error(res: Resources, features: CgroupFeatures = V1, update: bool = False) -> str:
    with pytest.raises(InvalidArgument) as err:
        verify(res, features, update)
    return str(err.value)


@pytest.mark.parametrize(("res", "message"), [
    (Resources(memory=4 * MB), "Minimum memory limit allowed is 6MB"),
    (Resources(memory=64 * MB, memory_swap=32 * MB),
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    (Resources(memory_swap=32 * MB),
     "You should always set the Memory limit when using Memoryswap limit, see usage"),
    (Resources(memory_swappiness=101),
     "Invalid value: 101, valid memory swappiness range is 0-100"),
    (Resources(memory_reservation=MB), "Minimum memory reservation allowed is 6MB"),
    (Resources(memory=16 * MB, memory_reservation=32 * MB),
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    (Resources(nano_cpus=10**9, cpu_period=1000),
     "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    (Resources(nano_cpus=10**9, cpu_quota=1000),
     "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    (Resources(cpu_period=100), "CPU cfs period can not be less than 1ms (i.e. 1000) or "
     "larger than 1s (i.e. 1000000)"),
    (Resources(cpu_quota=999), "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    (Resources(cpuset_cpus="5"), "Requested CPUs are not available - requested 5, "
     "available: 0-1"),
    (Resources(cpuset_cpus="1-x"), "Invalid value 1-x for cpuset cpus: invalid format: 1-x"),
    (Resources(cpuset_mems="1"), "Requested memory nodes are not available - requested 1, "
     "available: 0"),
    (Resources(blkio_weight=5), "Range of blkio weight is from 10 to 1000"),
    (Resources(shm_size=-1), "SHM size can not be less than 0"),
    (Resources(oom_score_adj=1001),
     "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
    (Resources(device_cgroup_rules=("c 1:3 rwx",)),
     "invalid device cgroup rule format: 'c 1:3 rwx'"),
    (Resources(ulimits=(Ulimit("as", 1, 1),)), "invalid ulimit type: as"),
])
def test_docker_refusals(res: Resources, message: str) -> None:
    assert _error(res) == message


def test_update_may_set_swap_alone() -> None:
    assert verify(Resources(memory_swap=64 * MB), V1, update=True)[0].memory_swap == 64 * MB


def test_warnings_and_discards() -> None:
    res, warnings = verify(Resources(oom_kill_disable=True, memory_swappiness=-1), V1)
    assert warnings == ["OOM killer is disabled for the container, but no memory limit is "
                        "set, this can result in the system running out of resources."]
    assert res.memory_swappiness is None  # -1 is "the kernel's" (fixMemorySwappiness)
    res, warnings = verify(Resources(blkio_weight=300), V1_NO_WEIGHT)
    assert res.blkio_weight == 0 and warnings == [
        "Your kernel does not support Block I/O weight or the cgroup is not mounted. "
        "Weight discarded."]
    res, warnings = verify(Resources(memory=64 * MB, memory_swappiness=10,
                                     oom_kill_disable=True), V2)
    assert res.memory_swappiness is None and not res.oom_kill_disable
    assert len(warnings) == 2


def test_throttles_and_rules_the_kernel_lacks_are_refused() -> None:
    no_throttle = CgroupFeatures(read_bps_device=False, cpus="0", mems="0")
    assert "--device-read-bps" in _error(
        Resources(device_read_bps=(ThrottleDevice("/dev/vda", 1),)), no_throttle)
    assert "eBPF" in _error(Resources(device_cgroup_rules=("c 1:3 rwm",)), V2)


def test_adapt_doubles_memory_as_swap() -> None:
    assert adapt(Resources(memory=64 * MB)).memory_swap == 128 * MB
    assert adapt(Resources(memory=64 * MB, memory_swap=-1)).memory_swap == -1


def test_parse_uint_list() -> None:
    assert resources.parse_uint_list("0-2,4") == {0, 1, 2, 4}
    for bad in ("", "a", "2-1", "1-"):
        with pytest.raises(ValueError, match="invalid format"):
            resources.parse_uint_list(bad)


def test_device_cgroup_rule_wildcards_leave_numbers_out() -> None:
    assert resources.device_cgroup_rule("c *:* m") == {"allow": True, "type": "c",
                                                       "access": "m"}
    assert resources.device_cgroup_rule("b 7:0 rw") == {
        "allow": True, "type": "b", "major": 7, "minor": 0, "access": "rw"}


def _spec(res: Resources) -> dict[str, object]:
    return dict(runtime_spec.generate(Path("/rootfs"), resources.spec_opts(res)))


def test_spec_of_every_field() -> None:
    spec = runtime_spec.generate(Path("/rootfs"), resources.spec_opts(Resources(
        memory=64 * MB, memory_swap=-1, memory_reservation=32 * MB, memory_swappiness=0,
        oom_kill_disable=True, nano_cpus=5 * 10**8, cpu_shares=512, cpuset_cpus="0",
        cpuset_mems="0", pids_limit=10, oom_score_adj=500, shm_size=128 * MB,
        ulimits=(Ulimit("nofile", 1024, 2048), Ulimit("core", -1, -1)),
        devices=(DeviceMapping("/dev/null", "/dev/mynull", "rw"),),
        device_cgroup_rules=("c 42:* rmw",))))
    r = spec["linux"]["resources"]
    assert r["memory"] == {"limit": 64 * MB, "swap": -1, "reservation": 32 * MB,
                           "swappiness": 0, "disableOOMKiller": True}
    assert r["cpu"] == {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0",
                        "mems": "0"}
    assert r["pids"] == {"limit": 10}
    assert spec["process"]["oomScoreAdj"] == 500
    assert spec["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
        {"type": "RLIMIT_CORE", "soft": 2**64 - 1, "hard": 2**64 - 1}]
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert f"size={128 * MB}" in shm["options"] and "size=65536k" not in shm["options"]
    mynull = next(d for d in spec["linux"]["devices"] if d["path"] == "/dev/mynull")
    assert (mynull["type"], mynull["major"], mynull["minor"]) == ("c", 1, 3)
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"} in r["devices"]
    assert r["devices"][-1] == {"allow": True, "type": "c", "major": 42, "access": "rmw"}


def test_missing_device_fails_the_start_as_docker() -> None:
    with pytest.raises(RuntimeFailure) as err:
        _spec(Resources(devices=(DeviceMapping("/dev/nope-berth"),)))
    assert str(err.value) == ('error gathering device information while adding custom '
                              'device "/dev/nope-berth": no such file or directory')
    with pytest.raises(RuntimeFailure, match="not a device node"):
        _spec(Resources(devices=(DeviceMapping("/etc/hostname"),)))


def test_old_record_without_the_new_fields_loads() -> None:
    c = Container(id="c", name="n", created="", spec=ContainerSpec(image="busybox"),
                  image_id="", path="sh", args=(), cmd=None, entrypoint=None, labels=(),
                  env=(), working_dir="/", user="", hostname="h", runtime="native",
                  log_path="")
    text = c.to_json().replace('"memory_swappiness":null,', "").replace(
        ',"devices":[],"device_cgroup_rules":[]', "")
    assert "device_cgroup_rules" not in text
    assert Container.from_json(text).spec.resources == Resources()
    full = Resources(ulimits=(Ulimit("nofile", 1, 2),), devices=(DeviceMapping("/dev/x"),),
                     device_read_bps=(ThrottleDevice("/dev/vda", 5),))
    from dataclasses import replace
    c2 = replace(c, spec=replace(c.spec, resources=full))
    assert Container.from_json(c2.to_json()).spec.resources == full


def test_missing_throttled_device_fails_the_start_as_docker() -> None:
    with pytest.raises(RuntimeFailure) as err:
        _spec(Resources(device_read_bps=(ThrottleDevice("/dev/nope-berth", 1),)))
    assert str(err.value) == "stat /dev/nope-berth: no such file or directory"
