"""Rotation of the json-file log: whole records only, N files kept, docker's option words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth.runtime.shim.jsonlog import (
    DEFAULT_ROTATION,
    PARTIAL_SIZE,
    JsonFileLog,
    Rotation,
    _encode_lines,
    encode_record,
    parse_size,
    rotated_path,
    rotation,
)


def lines_of(path: Path) -> list[str]:
    return [json.loads(raw)["log"] for raw in path.read_bytes().splitlines()]


def test_sizes_are_decimal_like_go_units() -> None:
    assert parse_size("10k") == 10_000
    assert parse_size("10m") == 10_000_000
    assert parse_size("1g") == 10**9
    assert parse_size("1.5MB") == 1_500_000
    assert parse_size("512") == 512
    with pytest.raises(ValueError, match="invalid size: '10q'"):
        parse_size("10q")


def test_options_and_the_bounded_default() -> None:
    assert rotation({}) == DEFAULT_ROTATION == Rotation(20_000_000, 5)
    assert rotation({"max-size": "10k"}) == Rotation(10_000, 1)  # docker: one file
    assert rotation({"max-size": "10k", "max-file": "3"}) == Rotation(10_000, 3)
    assert rotation({"max-file": "2"}) == Rotation(20_000_000, 2)
    with pytest.raises(ValueError, match="max-file cannot be less than 1"):
        rotation({"max-size": "1k", "max-file": "0"})
    with pytest.raises(ValueError, match="max-size must be a positive number"):
        rotation({"max-size": "0"})
    with pytest.raises(ValueError, match="invalid syntax"):
        rotation({"max-file": "x"})


def test_rotation_keeps_n_files_of_whole_consecutive_records(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(path, Rotation(max_size=1000, max_file=3))
    for i in range(500):
        log.write("stdout", f"line {i:04d}\n".encode())
    log.close()
    files = [rotated_path(path, 2), rotated_path(path, 1), path]
    assert all(f.exists() for f in files) and not rotated_path(path, 3).exists()
    assert all(f.stat().st_size <= 1000 for f in files)
    kept = [line for f in files for line in lines_of(f)]
    first = int(kept[0].split()[1])
    assert kept == [f"line {i:04d}\n" for i in range(first, 500)]


def test_one_batch_spanning_several_files_is_split_at_records(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(path, Rotation(max_size=2000, max_file=20))
    log.write("stdout", b"".join(f"{i}\n".encode() for i in range(300)))
    log.close()
    files = [rotated_path(path, i) for i in range(19, 0, -1) if rotated_path(path, i).exists()]
    assert len(files) > 5
    kept = [line for f in [*files, path] for line in lines_of(f)]
    assert kept == [f"{i}\n" for i in range(300)]


def test_max_file_one_truncates_like_docker(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(path, Rotation(max_size=500, max_file=1))
    for i in range(100):
        log.write("stdout", f"{i}\n".encode())
    log.close()
    assert not rotated_path(path, 1).exists()
    assert lines_of(path)[-1] == "99\n" and path.stat().st_size <= 500


def test_existing_file_size_counts_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    for _ in range(2):
        log = JsonFileLog(path, Rotation(max_size=300, max_file=2))
        for i in range(3):
            log.write("stdout", f"{i}\n".encode())
        log.close()
    assert rotated_path(path, 1).exists() and path.stat().st_size <= 300


@pytest.mark.parametrize("text", [
    b"plain ascii\nsecond line\n",
    b"quote \" and tab\t\n",
    b"html <b>&amp;</b>\n",
    b"backslash \\n not a newline\n",
    "unicode \u00e9 \u2028 line sep\n".encode(),
    b"bad utf8 \xff\xfe\n",
    b"ctrl \x1b[0m \x08 \x0c\n",
])
def test_batch_path_is_byte_identical_to_per_record_path(tmp_path: Path, text: bytes) -> None:
    fast = tmp_path / "fast.log"
    log = JsonFileLog(fast)
    log.write("stdout", text)
    log.close()
    expected = b"".join(encode_record("stdout", line + b"\n", 0)
                        for line in text.split(b"\n")[:-1])
    # the writer stamps with the clock, the reference with 0: compare all but the time
    mask = [line.rsplit(b',"time":', 1)[0] for line in fast.read_bytes().splitlines()]
    assert mask == [line.rsplit(b',"time":', 1)[0] for line in expected.splitlines()]


def test_batch_path_declines_what_it_cannot_encode() -> None:
    assert _encode_lines("stdout", b"a\n", "T") == b'{"log":"a\\n","stream":"stdout","time":"T"}\n'
    assert _encode_lines("stdout", b"<\n", "T") is None
    assert _encode_lines("stdout", b"x" * PARTIAL_SIZE + b"\n", "T") is None
