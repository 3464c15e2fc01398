"""Go's ``fmt.Sprintf`` for the template ``printf`` function.

Verbs: ``%v %s %q %d %t %x %X %o %O %b %c %U %e %E %f %F %g %G %%`` with the flags
``+ - # 0 space``, a width and a precision (``*`` takes them from the arguments). Like
Go, a verb that does not fit its operand prints ``%!d(string=abc)``, a missing operand
``%!d(MISSING)`` and unused operands ``%!(EXTRA int=1, string=a)``. Slices and maps apply
the verb to each element, as Go does.
"""

from __future__ import annotations

from berth.cli.template_fmt import (
    fmt_float,
    fmt_value,
    go_quote_rune,
    go_type,
    sort_key,
)
from berth.formats.goformat import go_quote

_FLAGS = "+-# 0"
_NUMERIC = "dboOxXcUeEfFgGv"


def sprintf(fmt: str, args: list[object]) -> str:
    """``fmt.Sprintf(fmt, args...)``."""
    out: list[str] = []
    argi = 0
    i, n = 0, len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in _FLAGS:
            flags += fmt[i]
            i += 1
        width, i, argi = _number(fmt, i, args, argi)
        prec = None
        if i < n and fmt[i] == ".":
            prec, i, argi = _number(fmt, i + 1, args, argi)
            prec = prec or 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(format_arg(args[argi], verb, flags, width, prec))
            argi += 1
    if argi < len(args):
        extra = (
            "<nil>" if a is None else f"{go_type(a)}={fmt_value(a)}" for a in args[argi:]
        )
        out.append("%!(EXTRA " + ", ".join(extra) + ")")
    return "".join(out)


def _number(fmt: str, i: int, args: list[object], argi: int) -> tuple[int | None, int, int]:
    """A width or precision at ``fmt[i]``: digits, ``*`` (from args) or nothing."""
    if i < len(fmt) and fmt[i] == "*":
        arg = args[argi] if argi < len(args) else None
        value = arg if isinstance(arg, int) and not isinstance(arg, bool) else None
        return value, i + 1, argi + 1
    start = i
    while i < len(fmt) and fmt[i].isdigit():
        i += 1
    return (int(fmt[start:i]) if i > start else None), i, argi


def format_arg(arg: object, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    """One operand under one verb, padded to ``width``."""
    if isinstance(arg, list | tuple):
        return "[" + " ".join(format_arg(a, verb, flags, width, prec) for a in arg) + "]"
    if isinstance(arg, dict):
        items = (
            format_arg(k, verb, flags, width, prec) + ":" + format_arg(v, verb, flags, width, prec)
            for k, v in sorted(arg.items(), key=lambda kv: sort_key(kv[0]))
        )
        return "map[" + " ".join(items) + "]"
    if arg is None:
        body: str | None = "<nil>" if verb == "v" else None
    elif isinstance(arg, bool):
        body = ("true" if arg else "false") if verb in "vt" else None
    elif isinstance(arg, int):
        body = _int(arg, verb, flags)
    elif isinstance(arg, float):
        body = _float(arg, verb, flags, prec)
    elif isinstance(arg, str):
        body = _str(arg, verb, prec)
    else:
        body = str(arg) if verb in "vs" else None
    if body is None:
        inner = "<nil>" if arg is None else f"{go_type(arg)}={fmt_value(arg)}"
        return f"%!{verb}({inner})"
    return _pad(body, width, flags, verb in _NUMERIC and not isinstance(arg, str))


def _signed(body: str, value: float, flags: str) -> str:
    if value >= 0 and not body.startswith("-"):
        if "+" in flags:
            return "+" + body
        if " " in flags:
            return " " + body
    return body


def _int(value: int, verb: str, flags: str) -> str | None:
    sharp = "#" in flags
    if verb in "vd":
        return _signed(str(value), value, flags)
    if verb in "xX":
        body = format(value, "#x" if sharp else "x")
        return body.upper() if verb == "X" else body
    if verb == "o":
        return format(value, "o") if not sharp else "0" + format(value, "o")
    if verb == "O":
        return ("-" if value < 0 else "") + "0o" + format(abs(value), "o")
    if verb == "b":
        return format(value, "b")
    if verb == "c":
        return chr(value)
    if verb == "q":
        return go_quote_rune(value)
    if verb == "U":
        return f"U+{value:04X}"
    return None


def _float(value: float, verb: str, flags: str, prec: int | None) -> str | None:
    if verb in "vgG" and prec is None:
        body = fmt_float(value)
        return _signed(body.upper() if verb == "G" else body, value, flags)
    if verb in "eEfFgG":
        if value != value or value in (float("inf"), float("-inf")):
            return _signed(fmt_float(value), value, flags)
        spec = ("#" if "#" in flags else "") + f".{6 if prec is None else prec}{verb}"
        return _signed(format(value, spec), value, flags)
    return None


def _str(value: str, verb: str, prec: int | None) -> str | None:
    if verb in "vs":
        return value if prec is None else value[:prec]
    if verb == "q":
        return go_quote(value if prec is None else value[:prec])
    if verb in "xX":
        body = value.encode().hex()
        return body.upper() if verb == "X" else body
    return None


def _pad(body: str, width: int | None, flags: str, numeric: bool) -> str:
    if width is None or len(body) >= width:
        return body
    if "-" in flags:
        return body + " " * (width - len(body))
    if "0" in flags:
        if numeric and body[:1] in "+- ":
            return body[0] + body[1:].rjust(width - 1, "0")
        return body.rjust(width, "0")
    return body.rjust(width)
