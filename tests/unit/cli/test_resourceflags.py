"""The resource flags of run/create/update parsed as docker 28's CLI parses them, with its
messages, and the HostConfig fields they send."""

from __future__ import annotations

import pytest

from berth.cli.commands.update import COMMAND as UPDATE
from berth.cli.commands.update import build_update
from berth.cli.flags import FlagSet, UsageError
from berth.cli.resourceflags import parse_device, ulimit
from berth.cli.runconfig import RUN_FLAGS, build_spec


def _host(*argv: str) -> dict[str, object]:
    opts, args = FlagSet(RUN_FLAGS, interspersed=False).parse([*argv, "busybox"])
    doc = build_spec(opts, args, {}).to_json()["HostConfig"]
    assert isinstance(doc, dict)
    return doc


def _flag_error(*argv: str) -> str:
    with pytest.raises(UsageError) as err:
        _host(*argv)
    return str(err.value)


def test_every_resource_flag_reaches_the_body() -> None:
    host = _host("-m", "64m", "--memory-swap", "-1", "--memory-reservation", "32m",
                 "--memory-swappiness", "10", "--oom-kill-disable", "--oom-score-adj", "-5",
                 "--cpus", "1.5", "--cpu-shares", "512", "--cpuset-cpus", "0-1",
                 "--cpuset-mems", "0", "--pids-limit", "10", "--blkio-weight", "300",
                 "--blkio-weight-device", "/dev/sda:200", "--device-read-bps", "/dev/sda:1mb",
                 "--device-write-iops", "/dev/sda:30", "--ulimit", "nofile=1024:2048",
                 "--ulimit", "core=0", "--shm-size", "128m", "--device", "/dev/fuse",
                 "--device", "/dev/null:/dev/n:r", "--device-cgroup-rule", "c 42:* rmw")
    assert host["Memory"] == 64 << 20 and host["MemorySwap"] == -1
    assert host["MemoryReservation"] == 32 << 20 and host["MemorySwappiness"] == 10
    assert host["OomKillDisable"] is True and host["OomScoreAdj"] == -5
    assert host["NanoCpus"] == 1_500_000_000 and host["CpuShares"] == 512
    assert (host["CpusetCpus"], host["CpusetMems"], host["PidsLimit"]) == ("0-1", "0", 10)
    assert host["BlkioWeight"] == 300
    assert host["BlkioWeightDevice"] == [{"Path": "/dev/sda", "Weight": 200}]
    assert host["BlkioDeviceReadBps"] == [{"Path": "/dev/sda", "Rate": 1 << 20}]
    assert host["BlkioDeviceWriteIOps"] == [{"Path": "/dev/sda", "Rate": 30}]
    assert host["Ulimits"] == [{"Name": "core", "Soft": 0, "Hard": 0},
                               {"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["ShmSize"] == 128 << 20
    assert host["Devices"] == [
        {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"},
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "r"}]
    assert host["DeviceCgroupRules"] == ["c 42:* rmw"]


def test_nothing_given_sends_no_resource_field() -> None:
    host = _host()
    assert not {"MemorySwappiness", "Ulimits", "Devices", "ShmSize", "PidsLimit"} & set(host)


@pytest.mark.parametrize(("argv", "message"), [
    (("--ulimit", "nofile"), 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit '
     "argument: nofile"),
    (("--ulimit", "as=1"), 'invalid argument "as=1" for "--ulimit" flag: invalid ulimit '
     "type: as"),
    (("--ulimit", "nofile=2048:1024"), "ulimit soft limit must be less than or equal to hard "
     "limit: 2048 > 1024"),
    (("--ulimit", "nofile=1:2:3"), "too many limit value arguments - 1:2:3, can only have up "
     "to two, `soft[:hard]`"),
    (("--ulimit", "nofile=x"), 'strconv.ParseInt: parsing "x": invalid syntax'),
    (("--device-cgroup-rule", "c 1:3 rwx"), "invalid device cgroup format 'c 1:3 rwx'"),
    (("--blkio-weight-device", "/dev/sda:5"), "invalid weight for device: /dev/sda:5"),
    (("--device-read-bps", "sda:1mb"), "bad format for device path: sda:1mb"),
    (("--device-read-iops", "/dev/sda:x"), "invalid rate for device: /dev/sda:x. The correct "
     "format is <device-path>:<number>. Number must be a positive integer"),
    (("--memory-swappiness", "101"), "invalid value: 101. Valid memory swappiness range is "
     "0-100"),
    (("--device", "/dev/null:dev/n"), "dev/n is not an absolute path"),
    (("--device", "/dev/null:/dev/n:rx"), "bad mode specified: rx"),
    (("--device", ":/dev/n"), "bad format for path: :/dev/n"),
    (("--shm-size", "lots"), "invalid size: 'lots'"),
    (("--blkio-weight", "x"), 'strconv.ParseUint: parsing "x": invalid syntax'),
])
def test_dockers_messages(argv: tuple[str, ...], message: str) -> None:
    assert message in _flag_error(*argv)


def test_ulimit_and_device_forms() -> None:
    assert ulimit("nofile=1024") == ("nofile", 1024, 1024)
    assert ulimit("core=-1") == ("core", -1, -1)
    assert parse_device("/dev/sda:rw") == ("/dev/sda", "/dev/sda", "rw")
    assert parse_device("/dev/sda:/dev/xvda") == ("/dev/sda", "/dev/xvda", "rwm")


def test_update_body() -> None:
    opts, _ = FlagSet(UPDATE.flags).parse(["-m", "128m", "--memory-swap", "256m",
                                           "--pids-limit", "0", "--restart", "on-failure:3",
                                           "c"])
    assert build_update(opts).to_json() == {
        "Memory": 128 << 20, "MemorySwap": 256 << 20,
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}
