"""JSON-lines progress streams (``/images/create``, ``/images/bootstrap``): docker's
``{"status": ...}`` messages, and errors that happen after the 200 as
``{"error": ..., "errorDetail": {"message": ...}}``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from berth.errors import BerthError


class ProgressStream:
    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._response = web.StreamResponse(headers={"Content-Type": "application/json"})

    async def __aenter__(self) -> ProgressStream:
        await self._response.prepare(self._request)
        return self

    async def send(self, **message: Any) -> None:
        await self._response.write(json.dumps(message).encode() + b"\r\n")

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, BerthError):
            await self.send(error=exc.message, errorDetail={"message": exc.message})
        await self._response.write_eof()
        return isinstance(exc, BerthError)

    @property
    def response(self) -> web.StreamResponse:
        return self._response
