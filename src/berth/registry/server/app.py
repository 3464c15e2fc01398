"""The aiohttp application: ``create_app(driver, options)``.

Middlewares, outermost first::

    errors (RegistryError → the spec's JSON body)  →  auth (htpasswd, if configured)  →  routes

Every response carries ``Docker-Distribution-API-Version: registry/2.0``, which clients
(docker, containers/image) use to recognise a v2 registry even on a 401.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from berth.registry.server.auth import Htpasswd, auth_middleware
from berth.registry.server.errcode import RegistryError
from berth.registry.server.options import RegistryOptions
from berth.registry.server.registry import Registry
from berth.registry.server.routes import OPTIONS_KEY, REGISTRY_KEY, add_routes
from berth.registry.server.storage import StorageDriver

log = logging.getLogger(__name__)

API_VERSION_HEADER = "Docker-Distribution-API-Version"


def error_response(err: RegistryError) -> web.Response:
    """The spec's JSON error (aiohttp leaves the body out of a HEAD response itself)."""
    return web.Response(status=err.status, body=err.body(), headers=err.headers,
                        content_type="application/json")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as err:
        if err.status >= 500:
            log.error("%s %s: %s", request.method, request.path, err.message)
        response = error_response(err)
        if not request.content.is_eof():
            # Refused before the body was read (auth, a size limit): close rather than
            # read, possibly for seconds, a body nobody wants.
            response.force_close()
        return response


async def _api_version(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[API_VERSION_HEADER] = "registry/2.0"


def create_app(driver: StorageDriver, options: RegistryOptions | None = None) -> web.Application:
    options = options or RegistryOptions()
    middlewares: list[Middleware] = [errors_middleware]
    if options.htpasswd is not None:
        middlewares.append(auth_middleware(Htpasswd.load(options.htpasswd), options.realm))
    app = web.Application(middlewares=middlewares)
    app[REGISTRY_KEY] = Registry(driver)
    app[OPTIONS_KEY] = options
    app.on_response_prepare.append(_api_version)
    add_routes(app)
    return app
