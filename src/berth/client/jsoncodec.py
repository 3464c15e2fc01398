"""JSON for the wire without the ``json`` package's start-up cost.

``import json`` costs ~10 ms before the first document is decoded: ``json.decoder`` and
``json.encoder`` import ``re`` (and with it ``enum``, ``functools``, ``collections``) and
compile six regular expressions, none of which decoding needs when CPython's C
accelerator ``_json`` is there. So decoding calls that accelerator directly: the same
scanner ``json.loads`` uses, with ``json.JSONDecoder``'s default settings, giving the same
values and raising the same ``json.JSONDecodeError`` (the C scanner imports ``json`` itself
on that error path). Encoding is the few JSON-shaped types the client sends, written as
``json.dumps`` writes them by default (ASCII-only, ``", "`` and ``": "`` separators).

Without ``_json`` (another Python implementation), both fall back to the ``json`` package.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Scanner = Callable[[str, int], tuple[Any, int]]

try:
    import _json
except ImportError:  # pragma: no cover - not CPython
    _json = None  # type: ignore[assignment]

_WHITESPACE = " \t\n\r"  # JSON's insignificant whitespace, and only that
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _DecoderSettings:
    """The attributes the C scanner reads from its context, as ``json.JSONDecoder()``
    sets them (``array_hook`` is read from Python 3.15 on)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    array_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scanner: Scanner | None = None


def _scan() -> Scanner | None:
    global _scanner
    if _scanner is None and _json is not None:
        try:
            _scanner = _json.make_scanner(_DecoderSettings)  # type: ignore[arg-type]
        except (AttributeError, TypeError):  # a future scanner wants more: use json
            return None
    return _scanner


def loads(data: bytes | bytearray | str) -> Any:
    """The value of one JSON document (UTF-8 if bytes), as ``json.loads`` decodes it."""
    text = data.decode() if isinstance(data, bytes | bytearray) else data
    scan = _scan()
    if scan is None:
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = scan(text, start)
    except StopIteration as stop:
        raise _decode_error("Expecting value", text, stop.value) from None
    if end != len(text):
        rest = text[end:].lstrip(_WHITESPACE)
        if rest:
            raise _decode_error("Extra data", text, len(text) - len(rest))
    return value


def _decode_error(message: str, text: str, pos: int) -> ValueError:
    from json import JSONDecodeError  # only a malformed document pays for the package

    return JSONDecodeError(message, text, pos)


def dumps(value: Any) -> str:
    """``json.dumps(value)`` for dicts (string keys), lists, tuples, strings, ints,
    floats, bools and None."""
    if _json is None:
        import json

        return json.dumps(value)
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def dumps_str(text: str, ensure_ascii: bool = True) -> str:
    """A string as a JSON string literal (``json.dumps(text, ensure_ascii=...)``)."""
    if _json is None:
        import json

        return json.dumps(text, ensure_ascii=ensure_ascii)
    return _json.encode_basestring_ascii(text) if ensure_ascii else _json.encode_basestring(
        text)


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_json.encode_basestring_ascii(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(", ")
            out.append(_json.encode_basestring_ascii(_key(key)))
            out.append(": ")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: object) -> str:
    """Object keys as ``json.dumps`` converts them."""
    if isinstance(key, str):
        return key
    if key is True or key is False or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return _float(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
