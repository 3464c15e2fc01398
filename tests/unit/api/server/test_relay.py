"""Detach keys: moby's parsing and the escape filter in the attach relay."""

from __future__ import annotations

import pytest

from berth.api.server.relay import DEFAULT_DETACH_KEYS, _EscapeFilter, parse_detach_keys


@pytest.mark.parametrize(("spec", "keys"), [
    ("", DEFAULT_DETACH_KEYS), ("ctrl-p,ctrl-q", b"\x10\x11"), ("ctrl-x,x", b"\x18x"),
    ("a", b"a"), ("ctrl-@", b"\x00"), ("ctrl-_", b"\x1f"), ("CTRL-A", b"\x01")])
def test_parse(spec: str, keys: bytes) -> None:
    assert parse_detach_keys(spec) == keys


@pytest.mark.parametrize("spec", ["ctrl-nope", "ab", "ctrl-", "ctrl-pp"])
def test_parse_rejects(spec: str) -> None:
    with pytest.raises(ValueError, match="Unknown character"):
        parse_detach_keys(spec)


def test_plain_input_passes_through() -> None:
    assert _EscapeFilter(b"\x10\x11").feed(b"echo hi\n") == (b"echo hi\n", False)


def test_sequence_split_across_reads_detaches() -> None:
    f = _EscapeFilter(b"\x10\x11")
    assert f.feed(b"ls\x10") == (b"ls", False)  # the prefix is held back
    assert f.feed(b"\x11more") == (b"", True)


def test_broken_prefix_is_released() -> None:
    f = _EscapeFilter(b"\x10\x11")
    assert f.feed(b"\x10") == (b"", False)
    assert f.feed(b"x") == (b"\x10x", False)
    assert f.feed(b"\x10\x10\x11") == (b"\x10", True)


def test_single_key_sequence() -> None:
    assert _EscapeFilter(b"q").feed(b"abq") == (b"ab", True)
