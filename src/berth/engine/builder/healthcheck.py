"""HEALTHCHECK: ``NONE`` or ``CMD`` with docker's duration and retry rules.

Durations use Go's ``time.ParseDuration`` syntax (``30s``, ``1m30s``, ``1.5h``, ``500ms``)
and become nanoseconds, the Engine API unit. Anything positive must be at least 1ms
(``container.MinimumDuration``); zero means "use the default".
"""

from __future__ import annotations

import re

from berth.engine.builder.instructions import Common, Healthcheck
from berth.engine.builder.words import BuilderFlags
from berth.formats.goformat import go_quote

MINIMUM_DURATION_NS = 1_000_000
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_COMPONENT = re.compile(r"(\d*\.?\d*)([^\d.]*)")


def parse_go_duration(text: str) -> int:
    """Nanoseconds of a Go duration string; raises ValueError with Go's wording."""
    invalid = ValueError(f"time: invalid duration {go_quote(text)}")
    body = text[1:] if text[:1] in "+-" else text
    sign = -1 if text.startswith("-") else 1
    if body == "0":
        return 0
    if not body:
        raise invalid
    total = 0.0
    pos = 0
    while pos < len(body):
        match = _COMPONENT.match(body, pos)
        if match is None or match.group(1) in ("", "."):
            raise invalid
        number, unit = match.groups()
        if not unit:
            raise ValueError(f"time: missing unit in duration {go_quote(text)}")
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        total += float(number) * _UNITS[unit]
        pos = match.end()
    return sign * round(total)


def _interval(flags: BuilderFlags, name: str) -> int:
    value = flags.string(name)
    if not value:
        return 0
    ns = parse_go_duration(value)
    if ns == 0:
        return 0
    if ns < MINIMUM_DURATION_NS:
        raise ValueError(f"Interval {go_quote(name)} cannot be less than 1ms")
    return ns


def health_config(common: Common, flags: BuilderFlags, kind: str, args: list[str],
                  is_json: bool) -> Healthcheck:
    """The node for ``HEALTHCHECK <kind> <args>``; flags must already be parsed."""
    typ = kind.upper()
    if not typ:
        raise ValueError("HEALTHCHECK requires at least one argument")
    if typ == "NONE":
        if args:
            raise ValueError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(**common, test=("NONE",))
    if typ != "CMD":
        raise ValueError(f"Unknown type {go_quote(typ)} in HEALTHCHECK (try CMD)")
    if not args:
        raise ValueError("Missing command after HEALTHCHECK CMD")
    test = ("CMD" if is_json else "CMD-SHELL", *args)
    retries = 0
    if (raw := flags.string("retries")):
        try:
            retries = int(raw, 10)
        except ValueError:
            raise ValueError(f'strconv.ParseInt: parsing {go_quote(raw)}: invalid syntax') from None
        if retries < 1:
            raise ValueError(f"--retries must be at least 1 (not {retries})")
    return Healthcheck(
        **common,
        test=test,
        interval=_interval(flags, "interval"),
        timeout=_interval(flags, "timeout"),
        start_period=_interval(flags, "start-period"),
        start_interval=_interval(flags, "start-interval"),
        retries=retries,
    )
