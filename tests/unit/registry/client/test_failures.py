"""A registry that lies or dies mid-blob: an error, and nothing committed."""

from __future__ import annotations

import asyncio
import os

import pytest
from aiohttp import web
from tests.unit.registry.client.images import blobs_of, ingests_of, serving

from berth.errors import BerthError, Unavailable
from berth.oci import reference
from berth.oci.digest import sha256_digest
from berth.registry.client import Descriptor, Fetcher, RegistrySession
from berth.store.content import ContentStore

PAYLOAD = os.urandom(200_000)
DESC = Descriptor("application/octet-stream", sha256_digest(PAYLOAD), len(PAYLOAD))


def lying_registry(mode: str) -> web.Application:
    async def blob(request: web.Request) -> web.StreamResponse:
        if mode == "mismatch":
            return web.Response(body=bytes(len(PAYLOAD)))
        if mode == "truncated":
            return web.Response(body=PAYLOAD[:1000])
        if mode == "oversized":
            return web.Response(body=PAYLOAD + b"extra")
        resp = web.StreamResponse(headers={"Content-Length": str(len(PAYLOAD))})
        await resp.prepare(request)
        await resp.write(PAYLOAD[: len(PAYLOAD) // 2])
        assert request.transport is not None
        request.transport.close()  # "close": the connection dies mid-blob
        return resp

    app = web.Application()
    app.router.add_get("/v2/lie/blobs/{digest}", blob)
    return app


def fetch(port: int, sink: ContentStore) -> None:
    async def go() -> None:
        async with RegistrySession() as session:
            await Fetcher(session).fetch(reference.parse(f"127.0.0.1:{port}/lie:v1"), DESC, sink)

    asyncio.run(go())


@pytest.mark.parametrize(("mode", "message"), [
    ("mismatch", f"expected {DESC.digest}, got {sha256_digest(bytes(len(PAYLOAD)))}"),
    ("truncated", "truncated, 1000 of 200000 bytes"),
    ("oversized", "more than the expected 200000 bytes"),
    ("close", "connection lost after"),
])
def test_a_bad_blob_is_an_error_and_never_committed(tmp_path, mode, message):
    sink = ContentStore(tmp_path)
    with serving(lying_registry(mode)) as port:
        with pytest.raises(BerthError, match=message):
            fetch(port, sink)
    assert blobs_of(sink) == set()
    if mode in ("truncated", "close"):  # a prefix of the blob, kept for a resume
        ingest = sink.ingest_dir / DESC.digest.split(":")[1]
        assert ingests_of(sink) == [ingest.name]
        assert PAYLOAD.startswith(ingest.read_bytes())
    else:  # wrong bytes: nothing kept
        assert ingests_of(sink) == []


def ranged_registry(log: list[str | None], honour_range: bool = True) -> web.Application:
    """Serves PAYLOAD, from the start of a ``Range: bytes=N-`` if ``honour_range``."""
    async def blob(request: web.Request) -> web.StreamResponse:
        wanted = request.headers.get("Range")
        log.append(wanted)
        if wanted and honour_range:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(PAYLOAD):
                return web.Response(status=416)
            return web.Response(status=206, body=PAYLOAD[start:], headers={
                "Content-Range": f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"})
        return web.Response(body=PAYLOAD)

    app = web.Application()
    app.router.add_get("/v2/lie/blobs/{digest}", blob)
    return app


def _leave_prefix(sink: ContentStore, data: bytes) -> None:
    (sink.ingest_dir / DESC.digest.split(":")[1]).write_bytes(data)


@pytest.mark.parametrize("honour_range", [True, False])
def test_an_interrupted_download_resumes(tmp_path, honour_range):
    sink = ContentStore(tmp_path)
    _leave_prefix(sink, PAYLOAD[:70_000])
    requests: list[str | None] = []
    with serving(ranged_registry(requests, honour_range)) as port:
        fetch(port, sink)
    assert requests == ["bytes=70000-"]
    assert sink.read(DESC.digest) == PAYLOAD
    assert ingests_of(sink) == []


@pytest.mark.parametrize("prefix", [b"x" * 70_000, PAYLOAD + b"more"])
def test_a_bad_prefix_is_fetched_again_whole(tmp_path, prefix):
    """Bytes in the ingest that are not the blob's (a registry that lied before the cut,
    a stray file) cost one more download, never a wrong blob."""
    sink = ContentStore(tmp_path)
    _leave_prefix(sink, prefix)
    requests: list[str | None] = []
    with serving(ranged_registry(requests)) as port:
        fetch(port, sink)
    assert sink.read(DESC.digest) == PAYLOAD
    assert requests[-1] is None and len(requests) <= 2
    assert ingests_of(sink) == []


def test_a_complete_prefix_needs_no_request(tmp_path):
    sink = ContentStore(tmp_path)
    _leave_prefix(sink, PAYLOAD)
    requests: list[str | None] = []
    with serving(ranged_registry(requests)) as port:
        fetch(port, sink)
    assert requests == [] and sink.read(DESC.digest) == PAYLOAD


def test_a_registry_that_is_not_there_is_unavailable(tmp_path):
    with serving(web.Application()) as port:
        pass  # stopped: nothing listens on the port any more
    with pytest.raises(Unavailable):
        fetch(port, ContentStore(tmp_path))
