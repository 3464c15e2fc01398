"""Durations as Go's ``time.ParseDuration`` reads them ("1m30s", "500ms", "-1.5h"), for
the flags docker declares as ``time.Duration`` (``--health-interval``...) and for
``events --since 10m``. Values are integer nanoseconds, as on the wire.

A str-method scanner instead of a regular expression: ``re`` costs milliseconds at every
start, and Go's errors name the part that failed, which a single match would not."""

from __future__ import annotations

_UNITS = {
    "ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}
_MAX = (1 << 63) - 1
_DIGITS = "0123456789"


def _quote(text: str) -> str:
    """Go's ``strconv.Quote`` for the texts a flag gets (printable, so mostly as is)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_duration(text: str) -> int:
    """Nanoseconds for ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``, or "0"; ``ValueError`` with
    Go's message otherwise ("time: missing unit in duration \\"5\\"")."""
    invalid = ValueError(f"time: invalid duration {_quote(text)}")
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        if rest[0] != "." and rest[0] not in _DIGITS:
            raise invalid
        whole, rest = _leading(rest, _DIGITS)
        fraction = ""
        if rest[:1] == ".":
            fraction, rest = _leading(rest[1:], _DIGITS)
            if not whole and not fraction:
                raise invalid
        elif not whole:
            raise invalid
        unit, rest = _leading(rest, None)
        if not unit:
            raise ValueError(f"time: missing unit in duration {_quote(text)}")
        scale = _UNITS.get(unit)
        if scale is None:
            raise ValueError(f"time: unknown unit {_quote(unit)} in duration {_quote(text)}")
        value = int(whole or "0") * scale
        if fraction:
            # Go scales the fraction through float64, so match its rounding.
            value += int(float(int(fraction)) * (scale / 10 ** len(fraction)))
        total += value
        if total > _MAX + 1 or (total > _MAX and not negative):
            raise invalid
    return -total if negative else total


def _leading(text: str, alphabet: str | None) -> tuple[str, str]:
    """Split off the longest prefix of characters in ``alphabet`` (None: every character
    that is neither a digit nor a dot, i.e. a unit)."""
    i = 0
    while i < len(text):
        char = text[i]
        inside = char in alphabet if alphabet is not None else not (char == "." or
                                                                    char in _DIGITS)
        if not inside:
            break
        i += 1
    return text[:i], text[i:]
