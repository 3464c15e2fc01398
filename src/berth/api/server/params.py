"""Query-string values as docker reads them (``httputils.BoolValue`` and friends)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from berth.errors import InvalidArgument


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


class GoFields(dict[str, Any]):
    """A JSON object read the way Go's encoding/json reads one into a struct: a field name
    matches exactly or, failing that, case-insensitively (docker-py sends ``detachKeys``
    where the API documents ``DetachKeys``, and moby accepts both)."""

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        folded = key.lower()
        for name, value in self.items():
            if name.lower() == folded:
                return value
        return default


def _loads(text: str) -> Any:
    return json.loads(text, object_hook=GoFields)


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json(loads=_loads)
    except ValueError as err:
        raise InvalidArgument(f"invalid JSON body: {err}") from err
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidArgument("invalid JSON body: expected an object")
    return body
