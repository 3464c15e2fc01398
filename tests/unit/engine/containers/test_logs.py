"""Reading a rotated json-file log: order across files, tail, follow across a rotation,
--details, and create-time validation of log options."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from berth.engine.containers import logs
from berth.engine.containers.model import Container, ContainerSpec, LogConfig
from berth.errors import InvalidArgument
from berth.runtime.shim.jsonlog import JsonFileLog, Rotation, rotated_path


def write(path: Path, lines: range, rotation: Rotation) -> None:
    log = JsonFileLog(path, rotation)
    for i in lines:
        log.write("stderr" if i % 7 == 0 else "stdout", f"line {i}\n".encode())
    log.close()


async def collect(path: Path, opts: logs.LogOptions,
                  running: bool = False) -> list[bytes]:
    return [line.data async for line in logs.read(path, opts, lambda: running)]


def expected(lines: range) -> list[bytes]:
    return [f"line {i}\n".encode() for i in lines]


@pytest.fixture
def rotated(tmp_path: Path) -> tuple[Path, int]:
    """A log rotated into 3 files; returns the path and the first kept line."""
    path = tmp_path / "c-json.log"
    write(path, range(400), Rotation(max_size=4000, max_file=3))
    assert rotated_path(path, 2).exists()
    first = int(asyncio.run(collect(path, logs.LogOptions()))[0].split()[1])
    assert first > 0, "the oldest lines were rotated away"
    return path, first


def test_reads_all_files_oldest_first(rotated: tuple[Path, int]) -> None:
    path, first = rotated
    assert asyncio.run(collect(path, logs.LogOptions())) == expected(range(first, 400))
    assert logs.log_files(path) == [rotated_path(path, 2), rotated_path(path, 1), path]


@pytest.mark.parametrize("n", [0, 1, 5, 60, 100, 10_000])
def test_tail_spans_files(rotated: tuple[Path, int], n: int) -> None:
    path, first = rotated
    got = asyncio.run(collect(path, logs.LogOptions(tail=n)))
    assert got == expected(range(first, 400))[-n:] if n else got == []


def test_tail_reads_backwards_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setattr(logs, "BLOCK", 37)  # lines straddle every block boundary
    path = tmp_path / "c-json.log"
    write(path, range(50), Rotation(max_size=1500, max_file=5))
    assert asyncio.run(collect(path, logs.LogOptions(tail=30))) == expected(range(20, 50))


def test_stream_filter_applies_after_tail(rotated: tuple[Path, int]) -> None:
    path, _ = rotated
    got = asyncio.run(collect(path, logs.LogOptions(stdout=False, tail=14)))
    assert got == [b"line 392\n", b"line 399\n"]  # of 386..399, the stderr ones


def test_partial_last_record_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    write(path, range(3), Rotation())
    with open(path, "ab") as f:
        f.write(b'{"log":"torn')
    assert asyncio.run(collect(path, logs.LogOptions())) == expected(range(3))
    assert asyncio.run(collect(path, logs.LogOptions(tail=2))) == expected(range(1, 3))


def test_follow_continues_across_rotations(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(path, Rotation(max_size=300, max_file=2))

    async def scenario() -> list[bytes]:
        done = asyncio.Event()
        seen: list[bytes] = []

        async def follow() -> None:
            async for line in logs.read(path, logs.LogOptions(follow=True),
                                        lambda: not done.is_set()):
                seen.append(line.data)

        reader = asyncio.create_task(follow())
        for i in range(40):
            log.write("stdout", f"line {i}\n".encode())
            if i % 3 == 0:  # slower than the poll: every rotation is seen
                await asyncio.sleep(logs.POLL_SECONDS * 2)
        log.close()
        await asyncio.sleep(logs.POLL_SECONDS * 3)
        done.set()
        await asyncio.wait_for(reader, 5)
        return seen

    assert asyncio.run(scenario()) == expected(range(40))


def test_follow_after_a_truncation_with_one_file(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(path, Rotation(max_size=200, max_file=1))

    async def scenario() -> list[bytes]:
        done = asyncio.Event()
        seen: list[bytes] = []

        async def follow() -> None:
            async for line in logs.read(path, logs.LogOptions(follow=True, tail=0),
                                        lambda: not done.is_set()):
                seen.append(line.data)

        reader = asyncio.create_task(follow())
        await asyncio.sleep(logs.POLL_SECONDS * 2)
        for i in range(12):
            log.write("stdout", f"line {i}\n".encode())
            await asyncio.sleep(logs.POLL_SECONDS * 2)
        log.close()
        done.set()
        await asyncio.wait_for(reader, 5)
        return seen

    assert asyncio.run(scenario()) == expected(range(12))


def container(options: dict[str, str], labels: dict[str, str], env: list[str]) -> Container:
    return Container(id="c1", name="n", created="t",
                     spec=ContainerSpec("busybox", log_config=LogConfig(
                         "json-file", tuple(options.items()))),
                     image_id="i", path="sh", args=(), cmd=None, entrypoint=None,
                     labels=tuple(labels.items()), env=tuple(env), working_dir="/", user="",
                     hostname="h", runtime="native", log_path="")


def test_details_are_docker_s_extra_attributes(tmp_path: Path) -> None:
    c = container({"labels": "tier,missing", "env": "REGION", "env-regex": "^X_"},
                  {"tier": "web app", "other": "no"}, ["REGION=eu", "X_A=1", "PATH=/bin"])
    attrs = logs.extra_attributes(c)
    assert attrs == (("REGION", "eu"), ("X_A", "1"), ("tier", "web app"))
    path = tmp_path / "c-json.log"
    write(path, range(1, 2), Rotation())
    got = asyncio.run(collect(path, logs.LogOptions(details=True, attrs=attrs)))
    assert got == [b"REGION=eu,X_A=1,tier=web+app line 1\n"]
    bare = asyncio.run(collect(path, logs.LogOptions(details=True)))
    assert bare == [b" line 1\n"]  # docker: an empty attribute list, then the space


def test_timestamps_have_nine_digits(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_bytes(b'{"log":"a\\n","stream":"stdout","time":"2026-11-28T02:22:38.12Z"}\n')
    got = asyncio.run(collect(path, logs.LogOptions(timestamps=True)))
    assert got == [b"2026-11-28T02:22:38.120000000Z a\n"]


@pytest.mark.parametrize(("driver", "options", "message"), [
    ("json-file", {"max-size": "10q"}, "failed to create logger: invalid size: '10q'"),
    ("json-file", {"max-file": "0", "max-size": "1m"}, "max-file cannot be less than 1"),
    ("json-file", {"bogus": "1"}, "unknown log opt 'bogus' for json-file log driver"),
    ("local", {"labels": "a"}, "unknown log opt 'labels' for local log driver"),
    ("json-file", {"compress": "maybe"}, "strconv.ParseBool"),
    ("syslog", {}, "berth does not support the syslog log driver yet"),
    ("foo", {}, 'error looking up logging plugin foo: plugin "foo" not found'),
])
def test_invalid_log_config(driver: str, options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        logs.validate_config(LogConfig(driver, tuple(options.items())))


def test_valid_log_configs() -> None:
    for cfg in (LogConfig(), LogConfig("local", (("max-size", "1m"),)), LogConfig("none"),
                LogConfig("json-file", (("max-size", "10k"), ("max-file", "3")))):
        logs.validate_config(cfg)
