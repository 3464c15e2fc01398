"""JSON-lines progress streams (``/images/create``, ``/images/bootstrap``): docker's
``{"status": ...}`` messages, bars drawn as dockerd draws them, and errors that happen
after the 200 as ``{"error": ..., "errorDetail": {"message": ...}}``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from berth.errors import BerthError

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float) -> str:
    """go-units ``HumanSize``: decimal units, four significant digits ("1.024kB")."""
    unit = 0
    while size >= 1000 and unit < len(_DECIMAL_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.4g}{_DECIMAL_UNITS[unit]}"


def progress_bar(current: int, total: int) -> str:
    """jsonmessage's ``JSONProgress.String()`` as dockerd renders it (bar, then bytes)."""
    if total <= 0:
        return f"{human_size(current):>8}"
    filled = min(int(current / total * 100) // 2, 50)
    numbers = f"{human_size(current):>8}/{human_size(total)}" if current <= total \
        else f"{human_size(current):>8}"
    return f"[{'=' * filled}>{' ' * (50 - filled)}] {numbers}"


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

    async def send_bar(self, status: str, id: str, current: int, total: int) -> None:
        """A message with its bar: ``progressDetail`` and the text dockerd draws of it."""
        await self.send(status=status, id=id,
                        progressDetail={"current": current, "total": total},
                        progress=progress_bar(current, total))

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
