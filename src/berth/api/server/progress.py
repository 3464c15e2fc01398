"""JSON-lines progress streams (``/images/create``, ``/images/bootstrap``): docker's
``{"status": ...}`` messages, and errors that happen after the 200 as
``{"error": ..., "errorDetail": {"message": ...}}``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from berth.errors import BerthError


class ProgressStream:
    def __init__(self, request: web.Request, lazy: bool = False) -> None:
        """``lazy``: send the 200 only with the first message, so an error raised before
        it still becomes an ordinary error response with its own status (a pull of a
        missing tag answers 404, not a 200 carrying the error)."""
        self._request = request
        self._lazy = lazy
        self._response = web.StreamResponse(headers={"Content-Type": "application/json"})

    async def __aenter__(self) -> ProgressStream:
        if not self._lazy:
            await self.start()
        return self

    async def start(self) -> None:
        if not self._response.prepared:
            await self._response.prepare(self._request)

    @property
    def started(self) -> bool:
        return self._response.prepared

    async def send(self, **message: Any) -> None:
        await self.start()
        await self._response.write(json.dumps(message).encode() + b"\r\n")

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        if not self.started:
            if exc is not None:
                return False  # nothing sent yet: the error gets its own status
            await self.start()
        try:
            if isinstance(exc, BerthError):
                await self.send(error=exc.message, errorDetail={"message": exc.message})
            await self._response.write_eof()
        except ConnectionError:
            return True  # the client went away: there is nobody left to tell
        return isinstance(exc, BerthError | ConnectionError)

    @property
    def response(self) -> web.StreamResponse:
        return self._response
