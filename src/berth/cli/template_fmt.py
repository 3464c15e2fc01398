"""How Go's ``fmt`` and ``encoding/json`` print the values a --format template produces.

The docker CLI prints every template value with ``fmt``'s ``%v`` and its ``json`` function
uses ``encoding/json``; a Python value maps onto the Go value docker would hold::

    None             nil        %v <nil>      json null
    MISSING          invalid    %v <no value> json null   (a key absent from a map)
    bool             bool       true / false
    int              int        123
    float            float64    %v 1e+06 / 0.5   json 1e+21 / 1000000 (different cut-offs)
    str              string     as is;  json "..." without HTML escaping (docker turns it off)
    list, tuple      slice      [a b c]       json [...]
    dict             map        map[k1:v1 k2:v2] with sorted keys;  json {...} in dict order,
                                because API objects keep Go's struct field order

Only the standard library's builtins are used: the CLI imports this on every start.
"""

from __future__ import annotations

from berth.formats.goformat import go_quote


class _Missing:
    """The value of a key a map does not have: Go's invalid ``reflect.Value``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


class JSONUnsupported(Exception):
    """A value ``encoding/json`` refuses (NaN, Inf, an object); docker then prints ''."""


def go_type(value: object) -> str:
    """The Go type docker would hold for ``value``, as error messages spell it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "[]string" if value and _all_str(value) else "[]interface {}"
    if isinstance(value, dict):
        return "map[string]string" if _all_str(value.values()) else "map[string]interface {}"
    if value is None or value is MISSING:
        return "interface {}"
    if callable(value):
        return "func"
    return type(value).__name__


def _all_str(values: object) -> bool:
    return all(isinstance(v, str) for v in values)  # type: ignore[attr-defined]


def sort_key(key: object) -> tuple[int, object]:
    """Go's fmt and text/template order map keys by value; numbers before strings."""
    if isinstance(key, int | float):
        return (0, key)
    return (1, str(key))


def fmt_value(value: object) -> str:
    """``fmt.Sprint(value)``: the ``%v`` form."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return fmt_float(value)
    if value is None:
        return "<nil>"
    if value is MISSING:
        return "<no value>"
    if isinstance(value, list | tuple):
        return "[" + " ".join(fmt_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{fmt_value(k)}:{fmt_value(value[k])}" for k in sorted(value, key=sort_key))
        return "map[" + " ".join(pairs) + "]"
    return str(value)


def _shortest(f: float) -> tuple[bool, str, int]:
    """Shortest round-trip digits of ``f``: (negative, digits, dp) with f = 0.digits * 10**dp.

    Python's repr and Go's strconv both produce the shortest digits that round-trip.
    """
    text = repr(f)
    neg = text.startswith("-")
    mantissa, _, exp = text.lstrip("-").partition("e")
    whole, _, frac = mantissa.partition(".")
    all_digits = whole + frac
    stripped = all_digits.lstrip("0")
    if not stripped.rstrip("0"):
        return neg, "0", 1
    dp = len(whole) + (int(exp) if exp else 0) - (len(all_digits) - len(stripped))
    return neg, stripped.rstrip("0"), dp


def _exp_form(digits: str, dp: int) -> str:
    exp = dp - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"


def _fixed_form(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def fmt_float(f: float) -> str:
    """``%v`` of a float64: shortest digits, exponent form below 1e-4 or from 1e+06 on."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    neg, digits, dp = _shortest(f)
    if digits == "0":
        body = "0"
    elif dp - 1 < -4 or dp - 1 >= 6:  # Go's %v uses %e for these exponents
        body = _exp_form(digits, dp)
    else:
        body = _fixed_form(digits, dp)
    return "-" + body if neg else body


def go_quote_rune(code: int) -> str:
    """``strconv.QuoteRune``: ``%q`` of an int."""
    ch = chr(code)
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + go_quote(ch)[1:-1] + "'"


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                 "\b": "\\b", "\f": "\\f", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json_str(text: str) -> str:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    out = ['"']
    for ch in text:
        esc = _JSON_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\\ufffd")  # Go replaces invalid UTF-8 the same way
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_float(f: float) -> str:
    if f != f or f in (float("inf"), float("-inf")):
        raise JSONUnsupported(f"json: unsupported value: {fmt_float(f)}")
    neg, digits, dp = _shortest(f)
    if digits == "0":
        body = "0"
    elif abs(f) < 1e-6 or abs(f) >= 1e21:
        body = _exp_form(digits, dp)
        if body[-4:-1] == "e-0":  # Go trims e-07 to e-7 (and leaves e+21)
            body = body[:-2] + body[-1]
    else:
        body = _fixed_form(digits, dp)
    return "-" + body if neg else body


def _json_into(value: object, out: list[str]) -> None:
    if value is None or value is MISSING:
        out.append("null")
    elif isinstance(value, str):
        out.append(_json_str(value))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_json_float(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _json_into(item, out)
        out.append("]")
    elif isinstance(value, MarshalledRow) and not isinstance(value, _Escaping):
        # a context's own MarshalJSON, wherever it sits: json.Marshal's HTML escaping
        inner: list[str] = []
        _json_into(_Escaping(value), inner)
        out.append("".join(inner).translate(_HTML_ESCAPES))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise JSONUnsupported(f"json: unsupported type: {go_type(value)}")
            out.append("," + _json_str(str(key)) + ":" if i else _json_str(str(key)) + ":")
            _json_into(item, out)
        out.append("}")
    else:
        raise JSONUnsupported(f"json: unsupported type: {go_type(value)}")


class MarshalledRow(dict[str, object]):
    """A row of ``ps``/``images``: docker's formatter contexts marshal themselves with
    ``json.Marshal``, which escapes ``<``, ``>`` and ``&`` (so ``{{json .}}`` prints
    ``\u003cnone\u003e``), unlike the ``json`` function on plain values. With a
    ``context`` (the Go type, e.g. ``*formatter.volumeContext``) a field the row lacks is
    an error, as a method missing from the Go type is, instead of "<no value>"."""

    context = ""

    def __init__(self, row: object = (), context: str = "") -> None:
        super().__init__(row)  # type: ignore[call-overload]
        if context:
            self.context = context


_HTML_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class _Escaping(MarshalledRow):
    """A row being encoded by its own marshaller (escaped once, by the caller)."""


def go_json(value: object) -> str:
    """docker's ``json`` template function: compact ``encoding/json``, HTML escaping off
    (on for a ``MarshalledRow``; outside string literals JSON has none of <, >, &)."""
    out: list[str] = []
    _json_into(value, out)  # a MarshalledRow, at the top or nested, escapes itself
    return "".join(out)
