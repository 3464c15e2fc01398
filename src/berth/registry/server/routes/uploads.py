"""``/v2/<name>/blobs/uploads/``: the push side of blobs (state machine in ``uploads.py``).

Bodies are streamed into the upload in 1 MiB writes, never read whole. A chunk's claimed
length (``Content-Range``, and ``Content-Length`` when both are sent) must match what
arrives, else SIZE_INVALID; the bytes that did arrive stay in the upload, whose ``Range``
(GET) then tells the client where to resume.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from berth.registry.server import names, ranges
from berth.registry.server.errcode import ErrorCode, RegistryError
from berth.registry.server.registry import Registry
from berth.registry.server.routes import registry_of, repository_name
from berth.registry.server.uploads import UploadStatus

BUFFER = 1 << 20


def _location(status: UploadStatus) -> str:
    return f"/v2/{status.name}/blobs/uploads/{status.uuid}"


def _accepted(status: UploadStatus, code: int = 202) -> web.Response:
    return web.Response(status=code, headers={
        "Location": _location(status),
        "Range": ranges.upload_range(status.size),
        "Docker-Upload-UUID": status.uuid,
        "Content-Length": "0",
    })


def _created(name: str, digest: str) -> web.Response:
    return web.Response(status=201, headers={
        "Location": f"/v2/{name}/blobs/{digest}",
        "Docker-Content-Digest": digest,
        "Content-Length": "0",
    })


def _upload_id(request: web.Request) -> str:
    return request.match_info["uuid"]


async def _receive(request: web.Request, registry: Registry, name: str, uuid: str) -> int:
    """Append the request body to the upload; returns the upload's new size."""
    claimed = ranges.parse_content_range(request.headers.get("Content-Range"))
    if claimed is not None and request.content_length is not None \
            and request.content_length != claimed[1] - claimed[0] + 1:
        raise RegistryError(ErrorCode.SIZE_INVALID, "Content-Length does not match "
                            "Content-Range", detail={"Content-Length": request.content_length,
                                                     "Content-Range": f"{claimed[0]}-{claimed[1]}"})
    writer = await asyncio.to_thread(registry.uploads.open, name, uuid,
                                     None if claimed is None else claimed[0])
    received = 0
    try:
        buffer = bytearray()
        async for chunk in request.content.iter_chunked(BUFFER):
            buffer += chunk
            if len(buffer) >= BUFFER:
                await asyncio.to_thread(writer.write, bytes(buffer))
                received += len(buffer)
                buffer.clear()
        if buffer:
            await asyncio.to_thread(writer.write, bytes(buffer))
            received += len(buffer)
    finally:
        await asyncio.to_thread(writer.close)
    if claimed is not None and received != claimed[1] - claimed[0] + 1:
        raise RegistryError(ErrorCode.SIZE_INVALID, f"chunk {claimed[0]}-{claimed[1]} "
                            f"carried {received} bytes", detail={"uuid": uuid,
                                                                 "offset": writer.size})
    return writer.size


def _has_body(request: web.Request) -> bool:
    return bool(request.content_length) or request.headers.get(
        "Transfer-Encoding", "").lower() == "chunked"


def _digest_param(request: web.Request) -> str:
    digest = request.query.get("digest")
    if digest is None:
        raise RegistryError(ErrorCode.DIGEST_INVALID, "the digest query parameter is required")
    return names.validate_digest(digest)


async def start(request: web.Request) -> web.Response:
    """POST: a new upload (202), a monolithic upload (``?digest=``, 201) or a mount (201)."""
    name = repository_name(request)
    registry = registry_of(request)
    mount, source = request.query.get("mount"), request.query.get("from")
    if mount is not None and source is not None:
        wanted = names.validate_digest(mount)
        mounted = await asyncio.to_thread(registry.blobs.mount, name, wanted,
                                          names.validate_name(source))
        if mounted is not None:
            return _created(name, wanted)
    digest = _digest_param(request) if "digest" in request.query else None
    status = await asyncio.to_thread(registry.uploads.start, name)
    if digest is None:
        return _accepted(status)
    return await _commit(request, registry, name, status.uuid, digest)


async def _commit(request: web.Request, registry: Registry, name: str, uuid: str,
                  digest: str) -> web.Response:
    if _has_body(request):
        await _receive(request, registry, name, uuid)
    info = await asyncio.to_thread(registry.uploads.commit, name, uuid, digest)
    return _created(name, info.digest)


async def patch(request: web.Request) -> web.Response:
    name = repository_name(request)
    registry = registry_of(request)
    uuid = _upload_id(request)
    size = await _receive(request, registry, name, uuid)
    return _accepted(UploadStatus(name, uuid, size))


async def finish(request: web.Request) -> web.Response:
    """PUT ``?digest=``: the last chunk (optional) and the commit."""
    name = repository_name(request)
    uuid = _upload_id(request)
    digest = _digest_param(request)
    return await _commit(request, registry_of(request), name, uuid, digest)


async def status(request: web.Request) -> web.Response:
    name = repository_name(request)
    current = await asyncio.to_thread(registry_of(request).uploads.status, name,
                                      _upload_id(request))
    return _accepted(current, 204)


async def cancel(request: web.Request) -> web.Response:
    name = repository_name(request)
    await asyncio.to_thread(registry_of(request).uploads.cancel, name, _upload_id(request))
    return web.Response(status=204)

