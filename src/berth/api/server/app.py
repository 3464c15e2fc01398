"""The HTTP server of the Engine API: one aiohttp application on a unix socket.

Every route is served both bare and under a ``/vX.Y`` prefix (1.24 to 1.45). This module
holds the one exception → status mapping (moby's ``FromError``): handlers raise
``BerthError`` subclasses and never build error responses themselves.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from berth.errors import BerthError

log = logging.getLogger(__name__)

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_VERSION_RE = re.compile(r"^/v(\d+)\.(\d+)(/|$)")


def _version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    match = _VERSION_RE.match(request.path)
    if match:
        asked = (int(match[1]), int(match[2]))
        if asked < _version_tuple(MIN_API_VERSION):
            return _error(400, f"client version {match[1]}.{match[2]} is too old. Minimum "
                               f"supported API version is {MIN_API_VERSION}, please upgrade "
                               "your client to a newer version")
        if asked > _version_tuple(API_VERSION):
            return _error(400, f"client version {match[1]}.{match[2]} is too new. Maximum "
                               f"supported API version is {API_VERSION}")
    try:
        return await handler(request)
    except BerthError as err:
        if err.status == 304:
            return web.Response(status=304)
        if err.status >= 500:
            log.error("%s %s: %s", request.method, request.path, err.message)
        return _error(err.status, err.message)
    except web.HTTPException as err:
        if err.status in (404, 405) and err.text:
            return _error(err.status, f"page not found: {request.method} {request.path}")
        raise
    except ConnectionError as err:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            return _unexpected(request, err)  # not the client's connection: a real error
        # The client hung up (logs -f, wait, events, attach): normal. The empty answer
        # is never sent; aiohttp finds the connection closed and drops it quietly.
        log.debug("%s %s: the client went away", request.method, request.path)
        return web.Response()
    except Exception as err:  # the one place an unexpected error becomes an answer
        return _unexpected(request, err)


def _unexpected(request: web.Request, err: Exception) -> web.Response:
    log.error("%s %s failed", request.method, request.path_qs, exc_info=err)
    if isinstance(err, OSError):
        return _error(500, str(err))
    return _error(500, f"internal error: {type(err).__name__}: {err}")


def json_response(data: object, status: int = 200) -> web.Response:
    """JSON with exactly ``Content-Type: application/json``: docker's client only decodes
    error bodies with that exact type (a charset suffix makes it print the raw body)."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return json_response({"message": message}, status=status)


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        response.headers["Api-Version"] = API_VERSION
        response.headers["Server"] = f"Berth/{API_VERSION} (linux)"
    return response


class Router:
    """Registers each route bare and under the ``/v{version}`` prefix."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def add(self, method: str, path: str, handler: Handler) -> None:
        self._app.router.add_route(method, path, handler)
        self._app.router.add_route(method, r"/v{version:[0-9]+\.[0-9]+}" + path, handler)


def make_app(register: list[Callable[[Router], None]]) -> web.Application:
    app = web.Application(middlewares=[_headers, _errors], client_max_size=1024**4)
    router = Router(app)
    for add_routes in register:
        add_routes(router)
    return app
