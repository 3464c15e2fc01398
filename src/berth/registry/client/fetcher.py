"""Download blobs into a ``BlobSink``, verifying digest and size while they stream.

::

    sink.resume(digest) ──▶ offset N (bytes an interrupted download left, already hashed)
    GET /v2/<name>/blobs/<digest>   (Range: bytes=N- when N > 0)
        206 from N ──▶ append        200 ──▶ the registry ignores Range: reset, from 0
    chunk ──▶ writer (ingest; hashes) ──▶ more bytes than the descriptor: abort
    end ──▶ size and digest of the whole blob match? commit : abort (and once more from 0
            if the bad bytes may be an old prefix's)

The sink's writer holds unverified bytes in an ingest that only ``commit`` publishes, and
the fetcher commits only after its own checks, so a lying or dying registry leaves nothing
behind under any digest. A blob the sink already has is not fetched again, and a download
cut off (connection lost, cancelled, the daemon killed) leaves its prefix in the ingest for
the next pull to resume. The sink is synchronous (the content store is): its calls run in
worker threads, the hashing with them.
"""

from __future__ import annotations

import asyncio
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


class ResumableWriter(BlobWriter, Protocol):
    @property
    def offset(self) -> int:
        """Bytes of the blob the ingest holds already (hashed): fetch the rest."""
        ...

    def digest(self) -> str:
        """The digest of every byte in the ingest, the resumed prefix included."""
        ...

    def reset(self) -> None:
        """Drop the ingest's bytes: start from 0."""
        ...

    def close(self) -> None:
        """Stop, keeping the bytes for a later ``resume``."""
        ...


class BlobSink(Protocol):
    """Where fetched blobs go (``store.content.ContentStore`` has this shape)."""

    def exists(self, digest: str) -> bool: ...

    def writer(self, expected: str | None = None, size: int | None = None) -> BlobWriter: ...

    def resume(self, expected: str, size: int | None = None) -> ResumableWriter: ...


class _Restart(Exception):
    """The resumed prefix is not this blob's: download it again from byte 0."""


class _BadContent(BerthError):
    """The registry sent bytes that are not the blob: nothing of them is worth keeping."""


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
        writer = await asyncio.to_thread(sink.resume, desc.digest, desc.size)
        try:
            try:
                await self._transfer(ref, desc, writer, progress)
            except _Restart:
                log.info("blob %s: the resumed prefix is not the blob's, fetching it whole",
                         desc.digest)
                await asyncio.to_thread(writer.reset)
                await self._transfer(ref, desc, writer, progress)
            await asyncio.to_thread(writer.commit)
        except _BadContent:
            writer.abort()
            raise
        except BaseException:
            writer.close()  # connection lost, cancelled: the prefix is kept for a resume
            raise
        progress(Progress(desc.digest, State.DOWNLOADED, desc.size, desc.size))

    async def _transfer(self, ref: Reference, desc: Descriptor, writer: ResumableWriter,
                        progress: ProgressCallback) -> None:
        """The rest of the blob after ``writer.offset`` into ``writer``, then checked."""
        offset = writer.offset
        if offset < desc.size:
            endpoint = self._session.endpoint(ref)
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            req = Request("GET", endpoint.blob(desc.digest), (endpoint.scope(),),
                          ok=(200, 206, 416) if offset else (200,), headers=headers)
            async with self._session.request(endpoint, req) as resp:
                if resp.status == 416:
                    raise _Restart()
                if offset and not _resumes_at(resp, offset):
                    log.info("blob %s: the registry ignored Range, fetching it whole",
                             desc.digest)
                    await asyncio.to_thread(writer.reset)
                    offset = 0
                elif offset:
                    log.info("blob %s: resuming after %d of %d bytes", desc.digest, offset,
                             desc.size)
                await self._stream(resp, desc, writer, offset, progress)
        actual = writer.digest()
        if actual != desc.digest:
            if offset:
                raise _Restart()
            raise _BadContent(f"blob digest mismatch: expected {desc.digest}, got {actual}")

    async def _stream(self, resp: aiohttp.ClientResponse, desc: Descriptor,
                      writer: ResumableWriter, offset: int, progress: ProgressCallback
                      ) -> None:
        received = offset
        try:
            async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
                received += len(chunk)
                if received > desc.size:
                    raise _BadContent(f"blob {desc.digest}: the registry sent more than the "
                                      f"expected {desc.size} bytes")
                await asyncio.to_thread(writer.write, chunk)
                progress(Progress(desc.digest, State.DOWNLOADING, received, desc.size))
        except (aiohttp.ClientError, TimeoutError) as err:
            raise BerthError(f"blob {desc.digest}: connection lost after {received} of "
                             f"{desc.size} bytes: {err}") from err
        if received < desc.size:
            raise BerthError(f"blob {desc.digest}: truncated, {received} of {desc.size} bytes")


def _resumes_at(resp: aiohttp.ClientResponse, offset: int) -> bool:
    """Is this the answer to ``Range: bytes=<offset>-``: a 206 whose Content-Range starts
    there? (A registry may ignore Range and send the whole blob with 200.)"""
    if resp.status != 206:
        return False
    unit, _, spec = resp.headers.get("Content-Range", "").partition(" ")
    start = spec.split("-", 1)[0]
    return unit == "bytes" and start.isdigit() and int(start) == offset


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of a TaskGroup's exception group, so callers see a plain error."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
