"""The bodies of ``POST /containers/{id}/exec`` and ``POST /exec/{id}/start``."""

from __future__ import annotations

import msgspec

from berth.api.types.containers import ConsoleSize, StrSlice
from berth.api.types.decode import Int64


class ExecCreate(msgspec.Struct):
    AttachStdin: bool = False
    AttachStdout: bool = False
    AttachStderr: bool = False
    ConsoleSize: ConsoleSize | None = None
    DetachKeys: str = ""
    Tty: bool = False
    Env: list[str] | None = None
    Cmd: StrSlice = None
    Privileged: bool = False
    User: str = ""
    WorkingDir: str = ""


class ExecStart(msgspec.Struct):
    Detach: bool = False
    Tty: bool = False
    ConsoleSize: ConsoleSize | None = None


__all__ = ["ConsoleSize", "ExecCreate", "ExecStart", "Int64"]
