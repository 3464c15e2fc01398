from __future__ import annotations

import json
from pathlib import Path

from berth.runtime.shim.jsonlog import PARTIAL_SIZE, JsonFileLog, encode_record, rfc3339_nano


def records(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_record_is_byte_identical_to_docker() -> None:
    line = encode_record("stdout", b"hi\n", 1_795_832_558_123_456_789)
    assert line == b'{"log":"hi\\n","stream":"stdout","time":"2026-11-28T02:22:38.123456789Z"}\n'


def test_time_trims_trailing_zeros_like_go() -> None:
    assert rfc3339_nano(1_795_832_558_120_000_000) == "2026-11-28T02:22:38.12Z"
    assert rfc3339_nano(1_795_832_558_000_000_000) == "2026-11-28T02:22:38Z"


def test_escaping_follows_moby_jsonlog() -> None:
    line = encode_record("stderr", b'<a & "b">\t\x1b\x08\\\xff\xe2\x80\xa8', 0)
    assert line.startswith(
        b'{"log":"\\u003ca \\u0026 \\"b\\"\\u003e\\t\\u001b\\u0008\\\\\xef\xbf\xbd\\u2028"')


def test_lines_are_split_and_partials_kept_until_newline(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    log = JsonFileLog(path)
    log.write("stdout", b"one\ntw")
    log.write("stderr", b"err\n")
    log.write("stdout", b"o\nthree")
    log.close()
    assert [(r["stream"], r["log"]) for r in records(path)] == [
        ("stdout", "one\n"), ("stderr", "err\n"), ("stdout", "two\n"), ("stdout", "three")]


def test_long_lines_are_flushed_in_16k_partials(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    log = JsonFileLog(path)
    log.write("stdout", b"x" * (PARTIAL_SIZE * 2 + 10) + b"\n")
    log.close()
    assert [len(r["log"]) for r in records(path)] == [PARTIAL_SIZE, PARTIAL_SIZE, 11]
    assert records(path)[-1]["log"].endswith("\n")


def test_log_appends_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    for word in (b"a\n", b"b\n"):
        log = JsonFileLog(path)
        log.write("stdout", word)
        log.close()
    assert [r["log"] for r in records(path)] == ["a\n", "b\n"]
