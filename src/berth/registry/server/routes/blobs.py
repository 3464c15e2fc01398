"""``/v2/<name>/blobs/<digest>``: HEAD, GET (with ``Range``) and DELETE of a blob.

A GET streams from the storage driver in 1 MiB reads; a ``Range`` read answers 206 with
``Content-Range: bytes <first>-<last>/<size>``.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from berth.registry.server import names, ranges
from berth.registry.server.routes import registry_of, repository_name, require_delete

CHUNK = 1 << 20


def _headers(digest: str, length: int) -> dict[str, str]:
    return {
        "Docker-Content-Digest": digest,
        "ETag": f'"{digest}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Content-Length": str(length),
    }


async def get(request: web.Request) -> web.StreamResponse:
    name = repository_name(request)
    digest = names.validate_digest(request.match_info["digest"])
    registry = registry_of(request)
    info = await asyncio.to_thread(registry.blobs.stat, name, digest)
    wanted = ranges.parse_range(request.headers.get("Range"), info.size)
    first, last = wanted if wanted is not None else (0, info.size - 1)
    response = web.StreamResponse(status=200 if wanted is None else 206,
                                  headers=_headers(digest, last - first + 1))
    if wanted is not None:
        response.headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    if request.method == "HEAD":
        await response.prepare(request)
        return response
    reader = await asyncio.to_thread(registry.blobs.open, name, digest, first)
    try:
        await response.prepare(request)
        remaining = last - first + 1
        while remaining > 0:
            chunk = await asyncio.to_thread(reader.read, min(CHUNK, remaining))
            if not chunk:
                break  # the blob shrank under us; the client sees a short body
            await response.write(chunk)
            remaining -= len(chunk)
    finally:
        await asyncio.to_thread(reader.close)
    await response.write_eof()
    return response


async def delete(request: web.Request) -> web.Response:
    require_delete(request)
    name = repository_name(request)
    digest = names.validate_digest(request.match_info["digest"])
    await asyncio.to_thread(registry_of(request).blobs.delete, name, digest)
    return web.Response(status=202, headers={"Docker-Content-Digest": digest,
                                             "Content-Length": "0"})
