"""Upload blobs and manifests (containerd's pusher; distribution's upload protocol).

For each blob::

    HEAD /v2/<name>/blobs/<digest>            200 → already there, done
    POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>
                                              201 → mounted from <other>, done
                                              202 → an ordinary upload session (Location)
    POST /v2/<name>/blobs/uploads/            202, Location: <session>
      size <= chunk_size:  PUT <session>?digest=<digest>   (the whole blob)       201
      larger:              PATCH <session>  Content-Range: start-end  (a chunk)   202, Location
                           ... one PATCH per chunk, each to the last Location ...
                           PUT <session>?digest=<digest>   (no body)             201

then ``PUT /v2/<name>/manifests/<tag|digest>`` with the manifest's media type, after every
blob it names (the registry refuses a manifest whose blobs it lacks).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO, Protocol

from berth.errors import BerthError
from berth.oci import digest as digests
from berth.oci.reference import DEFAULT_TAG, Reference
from berth.registry.client.descriptor import Descriptor
from berth.registry.client.progress import Progress, ProgressCallback, State, ignore
from berth.registry.client.session import Endpoint, RegistrySession, Request

log = logging.getLogger(__name__)

CHUNK_SIZE = 16 * 1024 * 1024  # larger blobs go up in PATCH chunks of this size
OCTET_STREAM = "application/octet-stream"


class BlobSource(Protocol):
    """Where pushed blobs come from (``store.content.ContentStore`` has this shape)."""

    def open(self, digest: str) -> BinaryIO: ...


class PushResult(enum.Enum):
    EXISTS = "exists"
    MOUNTED = "mounted"
    UPLOADED = "uploaded"


class Pusher:
    def __init__(self, session: RegistrySession, chunk_size: int = CHUNK_SIZE) -> None:
        self._session = session
        self._chunk_size = chunk_size

    async def push_blob(self, ref: Reference, desc: Descriptor, source: BlobSource,
                        mount_from: str | None = None,
                        progress: ProgressCallback = ignore) -> PushResult:
        """Make ``desc`` present in ``ref``'s repository; ``mount_from`` names another
        repository of the same registry known to hold it."""
        endpoint = self._session.endpoint(ref)
        scopes: tuple[str, ...] = (endpoint.scope("pull,push"),)
        head = Request("HEAD", endpoint.blob(desc.digest), scopes, ok=(200, 404))
        async with self._session.request(endpoint, head) as resp:
            if resp.status == 200:
                progress(Progress(desc.digest, State.EXISTS, desc.size, desc.size))
                return PushResult.EXISTS
        query = {}
        if mount_from is not None and mount_from != endpoint.name:
            query = {"mount": desc.digest, "from": mount_from}
            scopes = (*scopes, endpoint.scope("pull", mount_from))
        start = Request("POST", endpoint.uploads().with_query(query), scopes, ok=(201, 202))
        async with self._session.request(endpoint, start) as resp:
            if resp.status == 201:
                progress(Progress(desc.digest, State.MOUNTED, desc.size, desc.size))
                return PushResult.MOUNTED
            location = _location(endpoint, resp.headers.get("Location"))
        if desc.size > self._chunk_size:
            file = await asyncio.to_thread(source.open, desc.digest)
            try:
                location = await self._patch_chunks(endpoint, location, desc, file, progress)
            finally:
                file.close()
            await self._finish(endpoint, location, desc, None)
        else:
            await self._finish(endpoint, location, desc,
                               lambda: _read(source, desc, self._chunk_size, progress))
        progress(Progress(desc.digest, State.PUSHED, desc.size, desc.size))
        return PushResult.UPLOADED

    async def _patch_chunks(self, endpoint: Endpoint, location: str, desc: Descriptor,
                            file: BinaryIO, progress: ProgressCallback) -> str:
        offset = 0
        while offset < desc.size:
            chunk = await asyncio.to_thread(file.read, min(self._chunk_size, desc.size - offset))
            if not chunk:
                raise BerthError(f"blob {desc.digest}: source ended at {offset} of "
                                 f"{desc.size} bytes")
            headers = {"Content-Type": OCTET_STREAM,
                       "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
            req = Request("PATCH", endpoint.location(location), (endpoint.scope("pull,push"),),
                          ok=(202,), headers=headers, body=_constant(chunk))
            async with self._session.request(endpoint, req) as resp:
                location = _location(endpoint, resp.headers.get("Location"))
            offset += len(chunk)
            progress(Progress(desc.digest, State.PUSHING, offset, desc.size))
        return location

    async def _finish(self, endpoint: Endpoint, location: str, desc: Descriptor,
                      body: Callable[[], AsyncIterator[bytes]] | None) -> None:
        url = endpoint.location(location).update_query({"digest": desc.digest})
        headers = {"Content-Type": OCTET_STREAM,
                   "Content-Length": str(desc.size if body is not None else 0)}
        req = Request("PUT", url, (endpoint.scope("pull,push"),), ok=(201,),
                      headers=headers, body=body)
        async with self._session.request(endpoint, req) as resp:
            answered = resp.headers.get("Docker-Content-Digest")
        if answered is not None and answered != desc.digest:
            raise BerthError(f"registry stored {answered} for blob {desc.digest}")

    async def push_manifest(self, ref: Reference, media_type: str, data: bytes,
                            by_digest: bool = False) -> str:
        """PUT a manifest or index under ``ref``'s tag (or its digest); returns the digest."""
        endpoint = self._session.endpoint(ref)
        digest = digests.sha256_digest(data)
        target = digest if by_digest else (ref.tag or ref.digest or DEFAULT_TAG)
        req = Request("PUT", endpoint.manifest(target), (endpoint.scope("pull,push"),),
                      ok=(201,), headers={"Content-Type": media_type}, body=lambda: data)
        async with self._session.request(endpoint, req) as resp:
            answered = resp.headers.get("Docker-Content-Digest")
        if answered is not None and answered != digest:
            raise BerthError(f"registry stored {answered} for manifest {digest}")
        return digest


async def _read(source: BlobSource, desc: Descriptor, chunk_size: int,
                progress: ProgressCallback) -> AsyncIterator[bytes]:
    """The blob as an upload body, read in a worker thread; a fresh one per attempt."""
    file = await asyncio.to_thread(source.open, desc.digest)
    sent = 0
    try:
        while chunk := await asyncio.to_thread(file.read, min(chunk_size, 1024 * 1024)):
            sent += len(chunk)
            if sent > desc.size:
                raise BerthError(f"blob {desc.digest}: source is larger than {desc.size} bytes")
            yield chunk
            progress(Progress(desc.digest, State.PUSHING, sent, desc.size))
    finally:
        file.close()


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _location(endpoint: Endpoint, header: str | None) -> str:
    if not header:
        raise BerthError(f"{endpoint.host}: upload response without a Location")
    return header
