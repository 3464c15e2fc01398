from __future__ import annotations

import pytest

from berth.formats.stdcopy import STDERR, STDOUT, FrameDecoder, encode_frame


def test_frame_layout_matches_docker() -> None:
    assert encode_frame(STDOUT, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    assert encode_frame(STDERR, b"x" * 256)[:8] == b"\x02\x00\x00\x00\x00\x00\x01\x00"


def test_decoder_reassembles_frames_split_anywhere() -> None:
    stream = encode_frame(STDOUT, b"hello") + encode_frame(STDERR, b"") + \
        encode_frame(STDERR, b"world\n")
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        frames = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert frames == [(STDOUT, b"hello"), (STDERR, b""), (STDERR, b"world\n")]
        assert decoder.pending == 0


def test_decoder_keeps_an_incomplete_frame_pending() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(STDOUT, b"abc")[:-1]) == []
    assert decoder.pending == 10


def test_decoder_rejects_a_bad_stream_id() -> None:
    with pytest.raises(ValueError, match="stream id"):
        FrameDecoder().feed(b"\x07\x00\x00\x00\x00\x00\x00\x00")
