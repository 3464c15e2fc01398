"""The ``/v2/`` routes, one module per resource, and what they share.

Names contain slashes, so every route matches ``{name:.+}`` and validates it itself (a bad
name is NAME_INVALID, not a 404). Registration order resolves the one ambiguity, uploads
(``/blobs/uploads/<uuid>``) before blobs (``/blobs/<digest>``)::

    GET          /v2/                                   base (API version check)
    GET          /v2/_catalog                           listing
    GET          /v2/<name>/tags/list                   listing
    GET          /v2/<name>/referrers/<digest>          listing
    GET HEAD PUT DELETE  /v2/<name>/manifests/<ref>     manifests
    POST         /v2/<name>/blobs/uploads/              uploads
    GET PATCH PUT DELETE /v2/<name>/blobs/uploads/<id>  uploads
    GET HEAD DELETE      /v2/<name>/blobs/<digest>      blobs

Handlers are thin: validate the URL, call the synchronous ``Registry`` through
``asyncio.to_thread``, and shape the response.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from berth.registry.server import names
from berth.registry.server.errcode import ErrorCode, RegistryError
from berth.registry.server.options import RegistryOptions
from berth.registry.server.registry import Registry

REGISTRY_KEY = web.AppKey("registry", Registry)
OPTIONS_KEY = web.AppKey("options", RegistryOptions)


def registry_of(request: web.Request) -> Registry:
    return request.app[REGISTRY_KEY]


def options_of(request: web.Request) -> RegistryOptions:
    return request.app[OPTIONS_KEY]


def repository_name(request: web.Request) -> str:
    return names.validate_name(request.match_info["name"])


def require_delete(request: web.Request) -> None:
    if not options_of(request).delete_enabled:
        raise RegistryError(ErrorCode.UNSUPPORTED, "deletion is disabled on this registry")


async def base(request: web.Request) -> web.Response:
    return web.json_response({})


def add_routes(app: web.Application) -> None:
    from berth.registry.server.routes import blobs, listing, manifests, uploads

    name = "/v2/{name:.+}"
    router = app.router
    handler: Handler
    router.add_get("/v2/", base)
    router.add_get("/v2/_catalog", listing.catalog)
    router.add_get(f"{name}/tags/list", listing.tags)
    router.add_get(f"{name}/referrers/{{digest}}", listing.referrers)
    for method, handler in (("GET", manifests.get), ("HEAD", manifests.get),
                            ("PUT", manifests.put), ("DELETE", manifests.delete)):
        router.add_route(method, f"{name}/manifests/{{reference}}", handler)
    router.add_post(f"{name}/blobs/uploads/", uploads.start)
    for method, handler in (("GET", uploads.status), ("PATCH", uploads.patch),
                            ("PUT", uploads.finish), ("DELETE", uploads.cancel)):
        router.add_route(method, f"{name}/blobs/uploads/{{uuid}}", handler)
    for method, handler in (("GET", blobs.get), ("HEAD", blobs.get), ("DELETE", blobs.delete)):
        router.add_route(method, f"{name}/blobs/{{digest}}", handler)
