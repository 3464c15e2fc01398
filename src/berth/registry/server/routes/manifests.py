"""``/v2/<name>/manifests/<reference>``: HEAD, GET, PUT and DELETE of manifests.

A GET answers with the manifest's own media type as Content-Type (never converted, whatever
``Accept`` says: the bytes are the digest). A PUT body is read up to the size limit and no
further; larger is MANIFEST_INVALID with 413.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from berth.registry.server import names
from berth.registry.server.errcode import ErrorCode, RegistryError
from berth.registry.server.routes import options_of, registry_of, repository_name, require_delete

# Content types that say nothing about which manifest schema the body is.
_GENERIC_TYPES = frozenset({"", "application/json", "application/octet-stream"})


def _reference(request: web.Request) -> str:
    return names.validate_reference(request.match_info["reference"])


async def get(request: web.Request) -> web.Response:
    name = repository_name(request)
    reference = _reference(request)
    manifest = await asyncio.to_thread(registry_of(request).manifests.get, name, reference)
    etag = f'"{manifest.digest}"'
    headers = {"Docker-Content-Digest": manifest.digest, "ETag": etag}
    if etag in request.headers.getall("If-None-Match", []):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = manifest.media_type
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(manifest.content))
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=manifest.content, headers=headers)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    too_large = RegistryError(ErrorCode.MANIFEST_INVALID, f"manifest is larger than {limit} "
                              "bytes", detail={"limit": limit}, status=413)
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def put(request: web.Request) -> web.Response:
    name = repository_name(request)
    reference = _reference(request)
    content = await _read_limited(request, options_of(request).max_manifest_size)
    # aiohttp reports a missing Content-Type as application/octet-stream: generic too.
    content_type = request.content_type if request.content_type not in _GENERIC_TYPES else None
    result = await asyncio.to_thread(registry_of(request).manifests.put, name, reference,
                                     content, content_type)
    headers = {
        "Location": f"/v2/{name}/manifests/{result.digest}",
        "Docker-Content-Digest": result.digest,
        "Content-Length": "0",
    }
    if result.subject is not None:
        headers["OCI-Subject"] = result.subject
    return web.Response(status=201, headers=headers)


async def delete(request: web.Request) -> web.Response:
    require_delete(request)
    name = repository_name(request)
    reference = _reference(request)
    await asyncio.to_thread(registry_of(request).manifests.delete, name, reference,
                            allow_tag=options_of(request).tag_delete_enabled)
    return web.Response(status=202, headers={"Content-Length": "0"})
