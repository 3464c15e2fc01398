"""Reading usage from fake cgroupfs trees (plain files, no root), v1 and v2, with the
files' real formats, and /proc/stat and net/dev as the kernel writes them."""

from __future__ import annotations

from pathlib import Path

from berth.runtime.linux.cgroups.stats import (
    BLKIO_FIELDS,
    UINT64_MAX,
    V1_MEMORY_KEYS,
    V2_MEMORY_KEYS,
    BlkioEntry,
    machine_memory,
    parse_net_dev,
    read_cgroup,
    read_system_cpu,
)

CG = "/berth/abc"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_v1_reads_each_controller(tmp_path: Path) -> None:
    _write(tmp_path, {
        "cpuacct/berth/abc/cpuacct.usage": "2710004607\n",
        "cpuacct/berth/abc/cpuacct.usage_percpu": "2279660617 430343990 \n",
        "cpuacct/berth/abc/cpuacct.stat": "user 270\nsystem 3\n",
        "cpu/berth/abc/cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n",
        "memory/berth/abc/memory.usage_in_bytes": "249856\n",
        "memory/berth/abc/memory.max_usage_in_bytes": "1732608\n",
        "memory/berth/abc/memory.failcnt": "2\n",
        "memory/berth/abc/memory.limit_in_bytes": "67108864\n",
        "memory/berth/abc/memory.stat": "cache 0\nrss 65536\nshmem 0\nswap 0\n"
                                        "total_inactive_file 4096\n",
        "pids/berth/abc/pids.current": "3\n",
        "pids/berth/abc/pids.max": "max\n",
        "blkio/berth/abc/blkio.throttle.io_service_bytes":
            "254:0 Read 4096\n254:0 Write 16777216\n254:0 Sync 16777216\n"
            "254:0 Async 4096\n254:0 Discard 0\n254:0 Total 16781312\nTotal 16781312\n",
        "blkio/berth/abc/blkio.throttle.io_serviced": "254:0 Write 16\nTotal 16\n",
    })
    s = read_cgroup(CG, tmp_path)
    assert s.version == 1
    assert (s.cpu.total, s.cpu.percpu) == (2710004607, (2279660617, 430343990))
    assert (s.cpu.user, s.cpu.kernel) == (2_700_000_000, 30_000_000)  # ticks of 10 ms
    assert (s.cpu.periods, s.cpu.throttled_periods, s.cpu.throttled_time) == (10, 4, 123456)
    m = s.memory
    assert (m.usage, m.max_usage, m.failcnt, m.limit) == (249856, 1732608, 2, 67108864)
    assert [k for k, _ in m.stats] == list(V1_MEMORY_KEYS)  # docker's 32, no others
    stats = dict(m.stats)
    assert stats["rss"] == 65536 and stats["total_inactive_file"] == 4096
    assert stats["total_rss"] == 0 and "shmem" not in stats
    assert (s.pids_current, s.pids_limit) == (3, 0)  # "max": 0, as containerd's v1
    assert [name for name, _ in s.blkio.fields] == list(BLKIO_FIELDS)
    assert s.blkio.get("io_service_bytes_recursive") == (
        BlkioEntry(254, 0, "Read", 4096), BlkioEntry(254, 0, "Write", 16777216),
        BlkioEntry(254, 0, "Sync", 16777216), BlkioEntry(254, 0, "Async", 4096),
        BlkioEntry(254, 0, "Discard", 0), BlkioEntry(254, 0, "Total", 16781312))
    assert s.blkio.get("io_serviced_recursive") == (BlkioEntry(254, 0, "Write", 16),)
    assert s.blkio.get("io_queue_recursive") == ()  # [] in JSON, as moby's copy makes


def test_v1_prefers_the_cfq_files_when_they_hold_entries(tmp_path: Path) -> None:
    _write(tmp_path, {
        "memory/berth/abc/memory.usage_in_bytes": "1\n",
        "blkio/berth/abc/blkio.io_serviced_recursive": "8:0 Read 2\nTotal 2\n",
        "blkio/berth/abc/blkio.io_service_bytes_recursive": "8:0 Read 8192\nTotal 8192\n",
        "blkio/berth/abc/blkio.time_recursive": "8:0 77\n",
        "blkio/berth/abc/blkio.throttle.io_service_bytes": "8:0 Read 1\n",
    })
    s = read_cgroup(CG, tmp_path)
    assert s.blkio.get("io_service_bytes_recursive") == (BlkioEntry(8, 0, "Read", 8192),)
    assert s.blkio.get("io_time_recursive") == (BlkioEntry(8, 0, "", 77),)


def test_v1_a_removed_cgroup_raises(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    try:
        read_cgroup(CG, tmp_path)
    except FileNotFoundError:
        return
    raise AssertionError("a missing cgroup must raise FileNotFoundError")


def test_v2_reads_the_unified_files(tmp_path: Path) -> None:
    _write(tmp_path, {
        "cgroup.controllers": "cpu io memory pids\n",
        "berth/abc/cpu.stat": "usage_usec 5300000\nuser_usec 5000000\nsystem_usec 300000\n"
                              "nr_periods 7\nnr_throttled 1\nthrottled_usec 900\n",
        "berth/abc/memory.current": "52428800\n",
        "berth/abc/memory.max": "max\n",
        "berth/abc/memory.events": "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n",
        "berth/abc/memory.stat": "anon 40000000\nfile 10485760\ninactive_file 10485760\n"
                                 "zswap 0\n",
        "berth/abc/pids.current": "3\n",
        "berth/abc/pids.max": "max\n",
        "berth/abc/io.stat": "254:0 rbytes=4096 wbytes=10485760 rios=1 wios=10 dbytes=0 "
                             "dios=0\n254:16 rbytes=0 wbytes=1000 rios=0 wios=1\n",
    })
    s = read_cgroup(CG, tmp_path)
    assert s.version == 2
    assert (s.cpu.total, s.cpu.user, s.cpu.kernel, s.cpu.percpu) == (
        5_300_000_000, 5_000_000_000, 300_000_000, ())
    assert (s.cpu.periods, s.cpu.throttled_periods, s.cpu.throttled_time) == (7, 1, 900_000)
    assert (s.memory.usage, s.memory.max_usage, s.memory.failcnt) == (52428800, 0, 2)
    assert s.memory.limit == UINT64_MAX
    assert [k for k, _ in s.memory.stats] == list(V2_MEMORY_KEYS)
    assert dict(s.memory.stats)["inactive_file"] == 10485760
    assert (s.pids_current, s.pids_limit) == (3, UINT64_MAX)
    assert s.blkio.get("io_service_bytes_recursive") == (
        BlkioEntry(254, 0, "read", 4096), BlkioEntry(254, 0, "write", 10485760),
        BlkioEntry(254, 16, "read", 0), BlkioEntry(254, 16, "write", 1000))
    assert all(s.blkio.get(f) is None for f in BLKIO_FIELDS[1:])  # null, as docker's v2


def test_v2_no_io_is_null(tmp_path: Path) -> None:
    _write(tmp_path, {"cgroup.controllers": "", "berth/abc/memory.current": "1\n"})
    assert read_cgroup(CG, tmp_path).blkio.get("io_service_bytes_recursive") is None


def test_proc_stat_as_moby_reads_it(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  4705 356 584 3699176 23060 0 277 0 0 0\n"
        "cpu0 1393 280 255 1849709 11542 0 181 0 0 0\n"
        "cpu1 3312 76 329 1849467 11518 0 96 0 0 0\n"
        "intr 114930548 113199788 3 0 5 263 0 4\n")
    s = read_system_cpu(stat)
    # user..steal (seven fields) in ticks of 10 ms, as ns
    assert s.usage == (4705 + 356 + 584 + 3699176 + 23060 + 0 + 277) * 10_000_000
    assert s.online_cpus == 2


def test_net_dev_skips_lo_and_reads_both_directions() -> None:
    text = (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n"
        "    lo:     140       2    0    0    0     0          0         0      140       2 "
        "   0    0    0     0       0          0\n"
        "  eth0: 3146814    2243    1    2    0     0          0         0  3151726    2236 "
        "   3    4    0     0       0          0\n")
    (eth0,) = parse_net_dev(text)
    assert (eth0.name, eth0.rx_bytes, eth0.rx_packets, eth0.rx_errors, eth0.rx_dropped) == (
        "eth0", 3146814, 2243, 1, 2)
    assert (eth0.tx_bytes, eth0.tx_packets, eth0.tx_errors, eth0.tx_dropped) == (
        3151726, 2236, 3, 4)


def test_machine_memory(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683828 kB\nMemFree:        17747968 kB\n")
    assert machine_memory(meminfo) == 24683828 * 1024
    assert machine_memory(tmp_path / "missing") == 0
