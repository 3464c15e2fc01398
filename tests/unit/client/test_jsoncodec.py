"""``berth.client.jsoncodec`` must decode and encode exactly as the ``json`` package."""

from __future__ import annotations

import json
import math

import pytest

from berth.client import jsoncodec

DOCUMENTS = [
    '{"Id": "abc", "Names": ["/web"], "Created": 1700000000, "SizeRw": null}',
    '[{"a": 1.5e3, "b": -0.0, "c": true, "d": false}, [], {}, ""]',
    '  \t\n{"nested": {"deep": [1, [2, [3, {"x": "\\u00e9\\ud83d\\ude00\\n"}]]]}}\r\n ',
    '"just a string"', "42", "-1.25E-7", "null", "[NaN, Infinity, -Infinity]",
    '{"dup": 1, "dup": 2}', '"caf\u00e9 \u4e2d"', "12345678901234567890123",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_loads_matches_json(text):
    got, want = jsoncodec.loads(text), json.loads(text)
    assert repr(got) == repr(want)  # repr: NaN != NaN, and -0.0 == 0.0 hides the sign
    assert jsoncodec.loads(text.encode()) == want or "NaN" in text


@pytest.mark.parametrize("text", [
    "", "   ", "{", "[1, 2", '{"a" 1}', "[1,]", "nul", "1 2", '{"a": 1} x', '"\x01"',
    "'single'", "[1] [2]", '"\\x"', "01",
])
def test_loads_errors_match_json(text):
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        jsoncodec.loads(text)
    assert (got.value.msg, got.value.pos) == (want.value.msg, want.value.pos)


def test_loads_bad_utf8_is_a_value_error():
    with pytest.raises(ValueError):
        jsoncodec.loads(b'"\xff"')


VALUES = [
    {"Image": "busybox", "Cmd": ["sh", "-c", "echo \"hi\"\n"], "Env": [], "Tty": False,
     "HostConfig": {"Memory": 64 << 20, "PidsLimit": -1, "LogConfig": {"Config": {}}},
     "Labels": {"caf\u00e9": "\u4e2d\U0001f600"}, "StopTimeout": None},
    {"status": ["running"], "label": ["a=b", "c"]},
    [1.5, -0.0, 1e100, 1e-7, 0.1, 3.0], (1, "two", None), "", "\x00\x1f\x7f",
    {7: "int key", 2.5: "float key", True: "bool key", False: "no", None: "null key"},
    [math.inf, -math.inf, math.nan], 10**30,
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_matches_json(value):
    assert jsoncodec.dumps(value) == json.dumps(value)


@pytest.mark.parametrize("text", ["plain", "caf\u00e9 \"quoted\"\n\t", "\u2028\U0001f600"])
def test_dumps_str_matches_json(text):
    assert jsoncodec.dumps_str(text) == json.dumps(text)
    assert jsoncodec.dumps_str(text, ensure_ascii=False) == json.dumps(text, ensure_ascii=False)


@pytest.mark.parametrize("value", [{"set": {1}}, [object()], {(1, 2): "tuple key"}])
def test_dumps_refuses_what_json_refuses(value):
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        jsoncodec.dumps(value)
