"""RUN's output: the attached container's stdout and stderr reach the build's output
apart, stderr through ``BuildOutput.stderr`` (docker shows it red)."""

from __future__ import annotations

import asyncio

from berth.engine.builder.executor import _relay
from berth.engine.images.pull import PullProgress
from berth.formats.stdcopy import STDERR, STDOUT, encode_frame


class _Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def stream(self, text: str) -> None:
        self.calls.append(("stream", text))

    async def stderr(self, text: str) -> None:
        self.calls.append(("stderr", text))

    async def aux(self, image_id: str) -> None:
        raise AssertionError("not from RUN")

    async def pull(self, name: str, event: PullProgress) -> None:
        raise AssertionError("not from RUN")

    async def status(self, text: str) -> None:
        raise AssertionError("not from RUN")


def _relayed(*pieces: bytes) -> list[tuple[str, str]]:
    async def main() -> list[tuple[str, str]]:
        reader = asyncio.StreamReader()
        for piece in pieces:
            reader.feed_data(piece)
        reader.feed_eof()
        out = _Recorded()
        await _relay(reader, out)
        return out.calls

    return asyncio.run(main())


def test_stderr_goes_apart_from_stdout_in_arrival_order() -> None:
    data = (encode_frame(STDOUT, b"out\n") + encode_frame(STDERR, b"err\n")
            + encode_frame(STDOUT, b"more\n"))
    assert _relayed(data[:5], data[5:17], data[17:]) == [
        ("stream", "out\n"), ("stderr", "err\n"), ("stream", "more\n")]


def test_a_character_split_across_frames_is_joined_within_its_stream() -> None:
    e_acute = "é".encode()
    data = (encode_frame(STDERR, b"x" + e_acute[:1]) + encode_frame(STDOUT, b"o")
            + encode_frame(STDERR, e_acute[1:] + b"\n"))
    assert _relayed(data) == [("stderr", "x"), ("stream", "o"), ("stderr", "é\n")]


def test_an_unfinished_character_at_the_end_is_replaced() -> None:
    assert _relayed(encode_frame(STDERR, "é".encode()[:1])) == [("stderr", "\ufffd")]
