"""Signal names as docker accepts them: ``SIGKILL``, ``KILL``, ``9``, ``SIGRTMIN+3``."""

from __future__ import annotations

import signal as _signal

from berth.errors import InvalidArgument


def parse(value: str | int) -> int:
    text = str(value).strip().upper()
    if text.isdigit():
        number = int(text)
        if 0 < number < _signal.SIGRTMAX + 1:
            return number
        raise InvalidArgument(f"Invalid signal: {value}")
    name = text if text.startswith("SIG") else "SIG" + text
    for base in ("SIGRTMIN", "SIGRTMAX"):
        if name.startswith(base + "+") or name.startswith(base + "-"):
            offset = int(name[len(base):])
            return int(getattr(_signal, base)) + offset
    try:
        return int(_signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {value}") from None
