"""Query-string values as docker reads them (``httputils.BoolValue`` and friends)."""

from __future__ import annotations

import json
from typing import TypeVar

import msgspec
from aiohttp import web

from berth.api.types.decode import decode
from berth.errors import InvalidArgument

T = TypeVar("T", bound=msgspec.Struct)


def boolean(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("", "0", "no", "false", "none")


def integer(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {value!r}") from None


def filters(request: web.Request) -> dict[str, list[str]]:
    """``filters={"label":["a=b"]}`` (or the legacy ``{"label":{"a=b":true}}``)."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid filter {raw!r}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"invalid filter {raw!r}")
    return {k: list(v.keys()) if isinstance(v, dict) else list(v) for k, v in data.items()}


async def body(request: web.Request, model: type[T]) -> T:
    """The request body decoded into ``model`` (api/types), Go's rules; 400 if it is not."""
    return decode(await request.read() if request.can_read_body else b"", model)
