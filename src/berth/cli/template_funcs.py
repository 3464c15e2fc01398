"""The functions a --format template can call: Go's builtins and docker's additions.

Each function declares the kinds of its parameters, which the executor checks the way Go
checks a Go signature, so a wrong argument fails with Go's message::

    value   anything, a missing map key included (Go's reflect.Value parameters)
    any     anything; a missing key arrives as None (Go's interface{} parameters)
    str     a string            int   an int            strs  a list of strings

``and`` and ``or`` are here for the parser's name check; the executor evaluates them
itself because they stop at the first operand that decides the result.
"""

from __future__ import annotations

from berth.cli.template_fmt import (
    MISSING,
    JSONUnsupported,
    fmt_value,
    go_json,
    go_type,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class CallError(Exception):
    """A function failed; the executor reports ``error calling NAME: message``."""


class Function:
    __slots__ = ("fn", "kinds", "variadic")

    def __init__(
        self, fn: Callable[..., object], kinds: tuple[str, ...], variadic: str | None = None
    ) -> None:
        self.fn = fn
        self.kinds = kinds
        self.variadic = variadic


def is_true(value: object) -> bool:
    """Go's template truth: false, 0, nil, a missing key and empty collections are false."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool | int | float):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def _sprint(args: list[object], always_space: bool) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if i and (always_space or (not isinstance(arg, str) and not isinstance(args[i - 1], str))):
            out.append(" ")
        out.append(fmt_value(arg))
    return "".join(out)


def _kind(value: object) -> str:
    if value is None or value is MISSING:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(first: object, *others: object) -> bool:
    if not others:
        raise CallError("missing argument for comparison")
    k1 = _kind(first)
    for other in others:
        k2 = _kind(other)
        if k1 != k2:
            if k1 != "nil" and k2 != "nil":
                raise CallError("incompatible types for comparison")
        elif k1 == "other":
            raise CallError(f"non-comparable type {fmt_value(first)}: {go_type(first)}")
        elif k1 == "nil" or first == other:
            return True
    return False


def _ne(a: object, b: object) -> bool:
    return not _eq(a, b)


def _lt(a: object, b: object) -> bool:
    k1, k2 = _kind(a), _kind(b)
    if k1 not in ("int", "float", "string") or k2 not in ("int", "float", "string"):
        raise CallError("invalid type for comparison")
    if k1 != k2:
        raise CallError("incompatible types for comparison")
    return bool(a < b)  # type: ignore[operator]


def _index(item: object, *indexes: object) -> object:
    for index in indexes:
        if item is None or item is MISSING:
            raise CallError("index of untyped nil")
        if isinstance(item, dict):
            if index in item:
                item = item[index]
            else:  # Go yields the zero value of the map's element type
                item = "" if all(isinstance(v, str) for v in item.values()) else MISSING
        elif isinstance(item, list | tuple | str):
            if not isinstance(index, int) or isinstance(index, bool):
                raise CallError(f"cannot index slice/array with type {go_type(index)}")
            seq = item.encode() if isinstance(item, str) else item  # Go indexes bytes
            if not 0 <= index < len(seq):
                raise CallError(f"index out of range: {index}")
            item = seq[index]
        else:
            raise CallError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: object, *indexes: object) -> object:
    if not isinstance(item, list | tuple | str):
        raise CallError(f"can't slice item of type {go_type(item)}")
    if len(indexes) > 3 or (isinstance(item, str) and len(indexes) > 2):
        raise CallError(f"too many slice indexes: {len(indexes)}")
    bounds = [i for i in indexes if isinstance(i, int) and not isinstance(i, bool)]
    if len(bounds) != len(indexes):
        raise CallError("cannot index slice/array with nil")
    seq = item.encode() if isinstance(item, str) else item
    start, end = (bounds + [0, len(seq)][len(bounds):])[:2]
    for bound in (start, end):
        if not 0 <= bound <= len(seq):
            raise CallError(f"index out of range: {bound}")
    if start > end:
        raise CallError(f"invalid slice index: {start} > {end}")
    part = seq[start:end]
    return part.decode(errors="replace") if isinstance(part, bytes) else list(part)


def _len(item: object) -> int:
    if item is None or item is MISSING:
        raise CallError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, list | tuple | dict):
        return len(item)
    raise CallError(f"len of type {go_type(item)}")


def _call(fn: object, *args: object) -> object:
    if not callable(fn):
        raise CallError(f"non-function of type {go_type(fn)}")
    return fn(*(None if a is MISSING else a for a in args))


def _printf(fmt: str, *args: object) -> str:
    from berth.cli.template_printf import sprintf  # off the start-up path: few use printf

    return sprintf(fmt, list(args))


def _html(*args: object) -> str:
    text = args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(list(args), False)
    for raw, escaped in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"),
                         ('"', "&#34;"), ("\0", "\ufffd")):
        text = text.replace(raw, escaped)
    return text


def _urlquery(*args: object) -> str:
    from urllib.parse import quote_plus  # rare; keep it off the CLI's start-up path

    text = args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(list(args), False)
    return quote_plus(text, safe="")


def _json(value: object) -> str:
    try:
        return go_json(value)
    except JSONUnsupported:
        return ""  # docker ignores the encoder's error and prints nothing


def _split(text: str, sep: str) -> list[str]:
    return list(text) if sep == "" else text.split(sep)


def _per_rune(text: str, convert: Callable[[str], str]) -> str:
    # Go maps rune by rune; Python's full case mapping may grow a string ("ß" -> "SS").
    if text.isascii():
        return convert(text)
    return "".join(c2 if len(c2 := convert(c)) == 1 else c for c in text)


def _title(text: str) -> str:
    """``strings.Title``: upper-case the first letter of each word."""
    out, prev = [], " "
    for ch in text:
        separator = prev.isspace() if not prev.isascii() else not (prev.isalnum() or prev == "_")
        out.append(_per_rune(ch, str.upper) if separator else ch)
        prev = ch
    return "".join(out)


def _pad(text: str, prefix: int, suffix: int) -> str:
    if prefix < 0 or suffix < 0:
        raise CallError("strings: negative Repeat count")
    return text if text == "" else " " * prefix + text + " " * suffix


def _truncate(text: str, length: int) -> str:
    raw = text.encode()  # docker slices bytes
    if len(raw) < length:
        return text
    if length < 0:
        raise CallError(f"runtime error: slice bounds out of range [:{length}]")
    return raw[:length].decode(errors="replace")


def _identity(text: str, *_: object) -> str:
    return text


_compare = ("value", "value")
BUILTINS: dict[str, Function] = {
    "and": Function(lambda *a: a[-1], ("value",), "value"),
    "or": Function(lambda *a: a[-1], ("value",), "value"),
    "not": Function(lambda v: not is_true(v), ("value",)),
    "len": Function(_len, ("value",)),
    "index": Function(_index, ("value",), "value"),
    "slice": Function(_slice, ("value",), "value"),
    "call": Function(_call, ("value",), "value"),
    "print": Function(lambda *a: _sprint(list(a), False), (), "any"),
    "println": Function(lambda *a: _sprint(list(a), True) + "\n", (), "any"),
    "printf": Function(_printf, ("str",), "any"),
    "html": Function(_html, (), "any"),
    "urlquery": Function(_urlquery, (), "any"),
    "eq": Function(_eq, ("value",), "value"),
    "ne": Function(_ne, _compare),
    "lt": Function(_lt, _compare),
    "le": Function(lambda a, b: _lt(a, b) or _eq(a, b), _compare),
    "gt": Function(lambda a, b: not (_lt(a, b) or _eq(a, b)), _compare),
    "ge": Function(lambda a, b: not _lt(a, b), _compare),
}

# docker/cli templates.basicFunctions
FUNCTIONS: dict[str, Function] = {
    **BUILTINS,
    "json": Function(_json, ("any",)),
    "split": Function(_split, ("str", "str")),
    "join": Function(lambda items, sep: sep.join(items), ("strs", "str")),
    "title": Function(_title, ("str",)),
    "lower": Function(lambda s: _per_rune(s, str.lower), ("str",)),
    "upper": Function(lambda s: _per_rune(s, str.upper), ("str",)),
    "pad": Function(_pad, ("str", "int", "int")),
    "truncate": Function(_truncate, ("str", "int")),
}

# docker/cli templates.HeaderFunctions: a table's header row keeps the column titles as
# they are, so these return their string operand unchanged (pad is kept for alignment).
HEADER_FUNCTIONS: dict[str, Function] = {
    **FUNCTIONS,
    "json": Function(_identity, ("str",)),
    "split": Function(_identity, ("str", "str")),
    "join": Function(_identity, ("str", "str")),
    "title": Function(_identity, ("str",)),
    "lower": Function(_identity, ("str",)),
    "upper": Function(_identity, ("str",)),
    "truncate": Function(_identity, ("str", "int")),
}

FUNCTION_NAMES = frozenset(FUNCTIONS)
