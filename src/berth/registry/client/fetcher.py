"""Download blobs into a ``BlobSink``, verifying digest and size while they stream.

::

    GET /v2/<name>/blobs/<digest> ──▶ chunk ──▶ sha256 + count ──▶ sink writer (ingest)
                                                  │ more bytes than the descriptor: abort
                                        end ──▶ size and digest match? commit : abort

The sink's writer holds unverified bytes in an ingest that only ``commit`` publishes, and
the fetcher commits only after its own checks, so a lying or dying registry leaves nothing
behind under any digest. A blob the sink already has is not fetched again (a pull
interrupted by a restart resumes blob by blob). The sink is synchronous (the content store
is): its calls run in worker threads, the hashing with them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from typing import Protocol

import aiohttp

from berth.errors import BerthError
from berth.oci.reference import Reference
from berth.registry.client.descriptor import Descriptor
from berth.registry.client.progress import Progress, ProgressCallback, State, ignore
from berth.registry.client.session import RegistrySession, Request

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
MAX_CONCURRENT_DOWNLOADS = 3  # dockerd's default --max-concurrent-downloads


class BlobWriter(Protocol):
    def write(self, data: bytes) -> int: ...

    def commit(self) -> object:
        """Verify (against the expected digest and size) and publish; abort on failure."""
        ...

    def abort(self) -> None:
        """Discard the ingest; harmless after ``commit``."""
        ...


class BlobSink(Protocol):
    """Where fetched blobs go (``store.content.ContentStore`` has this shape)."""

    def exists(self, digest: str) -> bool: ...

    def writer(self, expected: str | None = None, size: int | None = None) -> BlobWriter: ...


def _write(writer: BlobWriter, hasher: hashlib._Hash, data: bytes) -> None:
    hasher.update(data)
    writer.write(data)


class Fetcher:
    def __init__(self, session: RegistrySession,
                 max_concurrent: int = MAX_CONCURRENT_DOWNLOADS) -> None:
        self._session = session
        self._limit = asyncio.Semaphore(max_concurrent)

    async def fetch(self, ref: Reference, desc: Descriptor, sink: BlobSink,
                    progress: ProgressCallback = ignore) -> bool:
        """Fetch one blob into ``sink``; False if it was already there."""
        if await asyncio.to_thread(sink.exists, desc.digest):
            progress(Progress(desc.digest, State.EXISTS, desc.size, desc.size))
            return False
        async with self._limit:
            await self._download(ref, desc, sink, progress)
        return True

    async def fetch_all(self, ref: Reference, descs: Iterable[Descriptor], sink: BlobSink,
                        progress: ProgressCallback = ignore) -> None:
        """Fetch blobs concurrently (at most ``max_concurrent`` at a time); the first
        failure cancels the others and is raised."""
        unique = {d.digest: d for d in descs}.values()
        try:
            async with asyncio.TaskGroup() as tasks:
                for desc in unique:
                    tasks.create_task(self.fetch(ref, desc, sink, progress))
        except BaseExceptionGroup as group:
            raise first_error(group) from None

    async def _download(self, ref: Reference, desc: Descriptor, sink: BlobSink,
                        progress: ProgressCallback) -> None:
        endpoint = self._session.endpoint(ref)
        req = Request("GET", endpoint.blob(desc.digest), (endpoint.scope(),))
        async with self._session.request(endpoint, req) as resp:
            writer = await asyncio.to_thread(sink.writer, desc.digest, desc.size)
            try:
                await self._stream(resp, desc, writer, progress)
                await asyncio.to_thread(writer.commit)
            except BaseException:
                writer.abort()
                raise
        progress(Progress(desc.digest, State.DOWNLOADED, desc.size, desc.size))

    async def _stream(self, resp: aiohttp.ClientResponse, desc: Descriptor,
                      writer: BlobWriter, progress: ProgressCallback) -> None:
        hasher = hashlib.sha256()
        received = 0
        try:
            async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
                received += len(chunk)
                if received > desc.size:
                    raise BerthError(f"blob {desc.digest}: the registry sent more than the "
                                     f"expected {desc.size} bytes")
                await asyncio.to_thread(_write, writer, hasher, chunk)
                progress(Progress(desc.digest, State.DOWNLOADING, received, desc.size))
        except (aiohttp.ClientError, TimeoutError) as err:
            raise BerthError(f"blob {desc.digest}: connection lost after {received} of "
                             f"{desc.size} bytes: {err}") from err
        if received < desc.size:
            raise BerthError(f"blob {desc.digest}: truncated, {received} of {desc.size} bytes")
        actual = "sha256:" + hasher.hexdigest()
        if actual != desc.digest:
            raise BerthError(f"blob digest mismatch: expected {desc.digest}, got {actual}")


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of a TaskGroup's exception group, so callers see a plain error."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
