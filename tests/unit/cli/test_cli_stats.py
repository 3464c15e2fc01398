"""docker CLI 28's stats calculators (stats_helpers.go) and cells (formatter_stats.go)
over real samples: a cgroup v1 document berthd sent for a busy-looping busybox with
--memory 64m (whose figures the real docker CLI rendered as "244KiB / 64MiB", "0.37%"),
and a cgroup v2 document of docker 28 on a unified host."""

from __future__ import annotations

import json
from typing import Any

from berth.cli.commands.stats import (
    Entry,
    block_io,
    bytes_size,
    cpu_percent,
    mem_percent,
    mem_usage_no_cache,
    network_io,
)

V1 = json.loads("""{"name":"/burn",
"id":"c5c83af09e9664f16e1e294e51cd8c520628ce9467dcf47143a7e687384dd8e5","read":"2026-12-05T11:37:08.078585386Z","preread":"2026-12-05T11:37:07.073900700Z",
"pids_stats":{"current":1},"blkio_stats":{"io_service_bytes_recursive":[],
"io_serviced_recursive":[],"io_queue_recursive":[],"io_service_time_recursive":[],
"io_wait_time_recursive":[],"io_merged_recursive":[],"io_time_recursive":[],
"sectors_recursive":[]},"num_procs":0,"storage_stats":{},
"cpu_stats":{"cpu_usage":{"total_usage":2710004607,"percpu_usage":[2279660617,430343990],
"usage_in_kernelmode":0,"usage_in_usermode":2700000000},"system_cpu_usage":62900600000000,
"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},
"precpu_stats":{"cpu_usage":{"total_usage":1943829980,"percpu_usage":[1887469358,56360622],
"usage_in_kernelmode":0,"usage_in_usermode":1930000000},"system_cpu_usage":62898600000000,
"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},
"memory_stats":{"usage":249856,"max_usage":1732608,"stats":{"active_anon":4096,
"active_file":0,"cache":0,"inactive_anon":61440,"inactive_file":0,"rss":65536,
"total_inactive_file":0,"total_rss":65536},"limit":67108864},
"networks":{"eth0":{"rx_bytes":1510,"rx_packets":17,"rx_errors":0,"rx_dropped":0,
"tx_bytes":430,"tx_packets":5,"tx_errors":0,"tx_dropped":0}}}""")

V2: dict[str, Any] = {
    "name": "/web", "id": "ab" * 32,
    "cpu_stats": {"cpu_usage": {"total_usage": 5_300_000_000, "usage_in_kernelmode": 1_000,
                                "usage_in_usermode": 2_000},
                  "system_cpu_usage": 104_000_000_000, "online_cpus": 4},
    "precpu_stats": {"cpu_usage": {"total_usage": 4_300_000_000},
                     "system_cpu_usage": 100_000_000_000, "online_cpus": 4},
    "memory_stats": {"usage": 52_428_800, "stats": {"anon": 40_000_000,
                                                    "inactive_file": 10_485_760},
                     "limit": 25_276_194_816},
    "blkio_stats": {"io_service_bytes_recursive": [
        {"major": 254, "minor": 0, "op": "read", "value": 4096},
        {"major": 254, "minor": 0, "op": "write", "value": 10_485_760},
        {"major": 254, "minor": 16, "op": "write", "value": 1_000}]},
    "pids_stats": {"current": 3, "limit": 18446744073709551615},
    "networks": {"eth0": {"rx_bytes": 1_000_000, "tx_bytes": 2_000},
                 "eth1": {"rx_bytes": 500, "tx_bytes": 40}},
}


def test_cpu_percent_of_a_v1_sample_uses_online_cpus() -> None:
    # (2710004607 - 1943829980) / (62900600000000 - 62898600000000) * 2 * 100
    assert abs(cpu_percent(V1["precpu_stats"], V1["cpu_stats"]) - 76.6174627) < 1e-6


def test_cpu_percent_of_a_v2_sample() -> None:
    assert cpu_percent(V2["precpu_stats"], V2["cpu_stats"]) == 100.0  # one of four CPUs


def test_cpu_percent_falls_back_to_percpu_length_without_online_cpus() -> None:
    cur = {**V1["cpu_stats"], "online_cpus": 0}
    assert abs(cpu_percent(V1["precpu_stats"], cur) - 76.6174627) < 1e-6
    assert cpu_percent(V2["precpu_stats"], {**V2["cpu_stats"], "online_cpus": 0}) == 0.0


def test_cpu_percent_is_zero_without_a_previous_sample_delta() -> None:
    assert cpu_percent(V1["cpu_stats"], V1["cpu_stats"]) == 0.0
    first = cpu_percent({}, V1["cpu_stats"])  # a stream's first document: precpu zero
    assert 0 < first < 1


def test_memory_without_cache_v1_subtracts_total_inactive_file() -> None:
    assert mem_usage_no_cache(V1["memory_stats"]) == 249856
    mem = {"usage": 100_000, "stats": {"total_inactive_file": 30_000, "inactive_file": 1}}
    assert mem_usage_no_cache(mem) == 70_000
    # not below zero: an inactive_file above usage is ignored
    assert mem_usage_no_cache({"usage": 10, "stats": {"total_inactive_file": 20}}) == 10


def test_memory_without_cache_v2_subtracts_inactive_file() -> None:
    assert mem_usage_no_cache(V2["memory_stats"]) == 52_428_800 - 10_485_760
    assert mem_usage_no_cache({}) == 0


def test_memory_percent() -> None:
    assert round(mem_percent(67108864, 249856), 2) == 0.37
    assert mem_percent(0, 100) == 0.0


def test_block_io_sums_by_the_first_letter_of_op() -> None:
    assert block_io(V2["blkio_stats"]) == (4096, 10_486_760)
    v1 = {"io_service_bytes_recursive": [
        {"op": "Read", "value": 10}, {"op": "Write", "value": 20}, {"op": "Sync", "value": 5},
        {"op": "Total", "value": 30}, {"op": "", "value": 99}]}
    assert block_io(v1) == (10, 20)
    assert block_io({"io_service_bytes_recursive": None}) == (0, 0)


def test_network_sums_every_interface() -> None:
    assert network_io(V2["networks"]) == (1_000_500.0, 2_040.0)
    assert network_io(None) == (0.0, 0.0)


def test_bytes_size_is_go_units_binary() -> None:
    assert [bytes_size(v) for v in (0, 249856, 67108864, 1536, 25_276_194_816)] == [
        "0B", "244KiB", "64MiB", "1.5KiB", "23.54GiB"]


def test_row_of_the_v1_sample_is_what_docker_printed() -> None:
    row = Entry("burn", V1).row(trunc=True)
    assert row == {"BlockIO": "0B / 0B", "CPUPerc": "76.62%", "Container": "burn",
                   "ID": "c5c83af09e96", "MemPerc": "0.37%", "MemUsage": "244KiB / 64MiB",
                   "Name": "burn", "NetIO": "1.51kB / 430B", "PIDs": "1"}
    assert list(row) == sorted(row)  # {{json .}} prints Go's sorted keys


def test_row_of_the_v2_sample() -> None:
    row = Entry(V2["id"], V2).row(trunc=False)
    assert row["ID"] == V2["id"] and row["Container"] == V2["id"]
    assert row["MemUsage"] == "40MiB / 23.54GiB"
    assert row["BlockIO"] == "4.1kB / 10.5MB"
    assert row["NetIO"] == "1MB / 2.04kB"
    assert row["PIDs"] == "3"


def test_a_stopped_containers_zero_document() -> None:
    zero = {"name": "/idle", "id": "cd" * 32, "cpu_stats": {"cpu_usage": {"total_usage": 0}},
            "precpu_stats": {}, "memory_stats": {}, "pids_stats": {}}
    row = Entry("idle", zero).row(trunc=True)
    assert (row["CPUPerc"], row["MemUsage"], row["MemPerc"], row["NetIO"], row["BlockIO"],
            row["PIDs"]) == ("0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0")


def test_an_invalid_entry_shows_dashes_and_no_name_is_dashes() -> None:
    entry = Entry("gone")
    entry.invalid = True
    row = entry.row(trunc=True)
    assert row["Name"] == "--" and row["CPUPerc"] == "--" and row["MemUsage"] == "-- / --"
    assert row["PIDs"] == "--" and row["NetIO"] == "--" and row["BlockIO"] == "--"
