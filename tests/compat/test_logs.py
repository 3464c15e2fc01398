"""json-file logs with the real docker CLI: rotation (--log-opt max-size/max-file), the
bounded default, the local and none drivers, and memory while a container logs ~1 GB."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.compat.daemon import Daemon, inspect

# 100-byte numbered lines (9 digits, a space, 89 filler, newline), fast in busybox awk
_AWK = ('awk -v n={n} \'BEGIN {{ f = "{filler}"; for (i = 1; i <= n; i++) '
        'printf "%09d %s\\n", i, f }}\'')


def numbered_lines(count: int) -> str:
    return _AWK.format(n=count, filler="x" * 89)


def log_dir(d: Daemon, cid: str) -> Path:
    return d.data_root / "containers" / cid


def kept_files(d: Daemon, cid: str) -> list[Path]:
    return sorted(log_dir(d, cid).glob(f"{cid}-json.log*"))


def test_rotation_keeps_max_file_files_and_logs_reads_them_in_order(daemon: Daemon) -> None:
    d = daemon
    cid = d.docker("run", "-d", "--log-opt", "max-size=10k", "--log-opt", "max-file=3",
                   "busybox", "sh", "-c", "seq 1 3000").stdout.strip()
    d.docker("wait", cid)
    files = kept_files(d, cid)
    assert [f.name for f in files] == [f"{cid}-json.log", f"{cid}-json.log.1",
                                       f"{cid}-json.log.2"]
    assert all(f.stat().st_size <= 10_000 for f in files)
    lines = d.docker("logs", cid).stdout.splitlines()
    first = int(lines[0])
    assert first > 1, "older lines were rotated away"
    assert lines == [str(i) for i in range(first, 3001)]
    assert d.docker("logs", "--tail", "3", cid).stdout.split() == ["2998", "2999", "3000"]
    cfg = inspect(d, cid)["HostConfig"]
    assert isinstance(cfg, dict)
    assert cfg["LogConfig"] == {"Type": "json-file",
                                "Config": {"max-size": "10k", "max-file": "3"}}
    d.docker("rm", cid)


def test_follow_spans_rotations(daemon: Daemon) -> None:
    d = daemon
    cid = d.docker("run", "-d", "--log-opt", "max-size=20k", "--log-opt", "max-file=2",
                   "busybox", "sh", "-c",
                   "sleep 1; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo $i; "
                   "[ $((i % 200)) = 0 ] && sleep 0.2; done").stdout.strip()
    out = d.docker("logs", "-f", cid, timeout=60).stdout.split()
    assert out == [str(i) for i in range(1, 2001)]
    d.docker("rm", cid)


def test_invalid_log_options_fail_at_create(daemon: Daemon) -> None:
    d = daemon
    bad = d.docker("create", "--log-opt", "max-size=10q", "busybox", check=False)
    assert bad.returncode != 0 and "invalid size: '10q'" in bad.stderr
    bad = d.docker("create", "--log-opt", "max-size=1k", "--log-opt", "max-file=0",
                   "busybox", check=False)
    assert bad.returncode != 0 and "max-file cannot be less than 1" in bad.stderr
    bad = d.docker("create", "--log-opt", "colour=blue", "busybox", check=False)
    assert bad.returncode != 0 and "unknown log opt 'colour'" in bad.stderr


def test_none_and_local_drivers(daemon: Daemon) -> None:
    d = daemon
    cid = d.docker("run", "-d", "--log-driver", "none", "busybox", "echo", "hi").stdout.strip()
    d.docker("wait", cid)
    out = d.docker("logs", cid, check=False)
    assert out.returncode != 0
    assert "configured logging driver does not support reading" in out.stderr
    assert not kept_files(d, cid)
    d.docker("rm", cid)

    cid = d.docker("run", "-d", "--log-driver", "local", "busybox", "echo", "hi").stdout.strip()
    d.docker("wait", cid)
    assert d.docker("logs", cid).stdout == "hi\n"
    d.docker("rm", cid)


def test_details_show_log_opt_labels_and_env(daemon: Daemon) -> None:
    d = daemon
    cid = d.docker("run", "-d", "--label", "tier=web", "-e", "REGION=eu", "--log-opt",
                   "labels=tier", "--log-opt", "env=REGION", "busybox", "echo",
                   "hi").stdout.strip()
    d.docker("wait", cid)
    assert d.docker("logs", "--details", cid).stdout == "REGION=eu,tier=web hi\n"
    d.docker("rm", cid)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ProcessLookupError(f"{pid} has exited (a zombie has no VmRSS)")


def test_a_gigabyte_of_output_keeps_memory_flat_and_the_tail_whole(daemon: Daemon) -> None:
    """~1 GB of 100-byte lines through the default (bounded) json-file log."""
    d = daemon
    assert d.proc is not None
    count = 10_000_000  # x 100 bytes = 1 GB
    berthd_before = _rss_kib(d.proc.pid)
    t0 = time.monotonic()
    cid = d.docker("run", "-d", "busybox", "sh", "-c", numbered_lines(count)).stdout.strip()
    shim_pid = int((d.exec_root / "containers" / cid / "shim.pid").read_text())
    shim_samples = [_rss_kib(shim_pid)]
    berthd_samples = [berthd_before]
    while inspect(d, cid)["State"]["Running"]:  # type: ignore[index]
        try:
            shim_samples.append(_rss_kib(shim_pid))
        except (FileNotFoundError, ProcessLookupError):
            break  # the shim exited with its container
        berthd_samples.append(_rss_kib(d.proc.pid))
        time.sleep(0.5)
    elapsed = time.monotonic() - t0
    assert d.docker("wait", cid).stdout.strip() == "0"
    berthd_samples.append(_rss_kib(d.proc.pid))
    print(f"1 GB logged in {elapsed:.1f}s; shim RSS KiB {shim_samples[0]}..{max(shim_samples)}"
          f"; berthd RSS KiB {berthd_before}..{max(berthd_samples)}")
    assert max(shim_samples) - shim_samples[0] < 50 * 1024
    assert max(berthd_samples) - berthd_before < 50 * 1024

    files = kept_files(d, cid)
    assert len(files) == 5, "the bounded default: 5 files of 20 MB"
    assert all(f.stat().st_size <= 20_000_000 for f in files)
    newest_first = [files[0], *sorted(files[1:], key=lambda f: int(f.suffix[1:]))]
    numbers: list[int] = []
    for f in reversed(newest_first):  # oldest first
        for raw in f.read_bytes().splitlines():
            rec = json.loads(raw)
            assert rec["log"].endswith("\n") and len(rec["log"]) == 100
            numbers.append(int(rec["log"][:9]))
    assert numbers == list(range(numbers[0], count + 1)), "kept lines are whole and in order"
    tail = d.docker("logs", "--tail", "2", cid).stdout.splitlines()
    assert [int(line[:9]) for line in tail] == [count - 1, count]
    d.docker("rm", cid)
