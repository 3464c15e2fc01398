"""``berth-runtime``'s log: runc's ``--log``, ``--log-format`` and ``--debug``, written as
runc's logrus writes them, and the error that ends a command.

runc logs to stderr unless ``--log FILE``; each record is one line::

    text:  time="2026-12-05T11:33:24Z" level=error msg="container does not exist"
    json:  {"level":"error","msg":"container does not exist","time":"2026-12-05T11:33:24Z"}

A command that fails logs its error at level ``error`` and exits 1 (``exec`` 255); when
the log is a file, the bare message also goes to stderr (runc's ``fatalWithCode``), so a
caller reading stderr always sees it.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import sys
from typing import TextIO

log = logging.getLogger("berth.runtime.linux.cli")

FORMATS = ("text", "json")
# logrus quotes a text value unless every character is one of these.
_BARE = re.compile(r"^[A-Za-z0-9\-._/@^+]+$")
_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
           logging.ERROR: "error", logging.CRITICAL: "fatal"}


class CommandError(Exception):
    """A command failed: ``message`` (runc's words) is logged, the CLI exits ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _timestamp(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _go_quote(text: str) -> str:
    """Go's ``%q`` for the strings we log (json's escapes are the same for them)."""
    return json.dumps(text, ensure_ascii=False)


def go_json(value: object) -> str:
    """Compact JSON as Go's encoding/json writes it (<, > and & escaped)."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        value = msg if _BARE.match(msg) else _go_quote(msg)
        return (f'time="{_timestamp(record.created)}" '
                f"level={_LEVELS.get(record.levelno, 'info')} msg={value}")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return go_json({"level": _LEVELS.get(record.levelno, "info"),
                        "msg": record.getMessage(), "time": _timestamp(record.created)})


class _Destination:
    """Where records go, and whether that is the caller's stderr."""

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr
        self.is_stderr = True


_destination = _Destination()


def setup(path: str | None, fmt: str, debug: bool) -> None:
    """Send this process's records to ``path`` (appended, as runc opens it) or stderr."""
    if fmt not in FORMATS:
        _configure(sys.stderr, True, "text", debug)
        raise CommandError(f"invalid log-format: {fmt}")
    if path and path != "/dev/stderr":
        # runc: O_CREATE|O_WRONLY|O_APPEND|O_SYNC, 0o644.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC, 0o644)
        _configure(os.fdopen(fd, "a", buffering=1), False, fmt, debug)
    else:
        _configure(sys.stderr, True, fmt, debug)


def _configure(stream: TextIO, is_stderr: bool, fmt: str, debug: bool) -> None:
    _destination.stream = stream
    _destination.is_stderr = is_stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("berth")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.propagate = False


def fatal(message: str) -> None:
    """Log a command's error as runc does; the bare text also to stderr when the log is a
    file."""
    log.error(message)
    if not _destination.is_stderr:
        print(message, file=sys.stderr)
