"""A registry in front of a registry, on loopback, for pull tests: it forwards every
request and answers what the test wants instead.

::

    berthd ──HTTP──▶ RegistryProxy (thread, own loop) ──aiohttp──▶ berth registry serve
                       │ counts each blob GET (its Range) and the bytes sent back
                       │ per-digest faults: wrong bytes, truncated, cut after N bytes,
                       │   missing, throttled; per-tag manifest overrides
                       ▼
                     ``gets`` / ``sent`` for the test to assert on

Set ``faults`` and ``manifests`` from the test thread between pulls (plain dict writes).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from tests.unit.registry.server.harness import ServerThread

_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})$")
_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Docker-Content-Digest",
                   "Accept-Ranges", "WWW-Authenticate", "Location", "Range",
                   "Docker-Distribution-Api-Version", "Link")
_STEP = 64 * 1024


@dataclass(frozen=True)
class Fault:
    kind: str  # "wrong" | "truncate" | "cut" | "missing" | "throttle" | "no-range"
    after: int = 0  # "cut": bytes sent before the connection is closed
    rate: int = 0  # "throttle": bytes per second


@dataclass
class Get:
    digest: str
    range: str | None
    sent: int = 0  # bytes of the blob this request got


class RegistryProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = f"http://{upstream}"
        self.faults: dict[str, Fault] = {}
        self.manifests: dict[str, tuple[str, bytes]] = {}  # reference → (type, body)
        self.gets: list[Get] = []
        self.sent: Counter[str] = Counter()  # digest → blob bytes sent
        self._http: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _app: web.Application) -> None:
        if self._http is not None:
            await self._http.close()

    def gets_of(self, digest: str) -> list[Get]:
        return [g for g in self.gets if g.digest == digest]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        manifest = _MANIFEST.match(request.path)
        if manifest and manifest["ref"] in self.manifests:
            media_type, body = self.manifests[manifest["ref"]]
            return web.Response(body=b"" if request.method == "HEAD" else body,
                                content_type=media_type,
                                headers={"Content-Length": str(len(body))})
        blob = _BLOB.match(request.path)
        fault = self.faults.get(blob["digest"]) if blob and request.method == "GET" else None
        get = None
        if blob and request.method == "GET":
            get = Get(blob["digest"], request.headers.get("Range"))
            self.gets.append(get)
        if fault is not None and fault.kind == "missing":
            return web.json_response({"errors": [{"code": "BLOB_UNKNOWN",
                                                  "message": "blob unknown to registry"}]},
                                     status=404)
        return await self._forward(request, get, fault)

    async def _forward(self, request: web.Request, get: Get | None, fault: Fault | None
                       ) -> web.StreamResponse:
        if self._http is None:
            self._http = aiohttp.ClientSession(auto_decompress=False)
        headers = {k: v for k, v in request.headers.items()
                   if k in _PASSED_HEADERS or k in ("Accept", "Authorization")}
        if fault is not None and fault.kind == "no-range":
            headers.pop("Range", None)
        body = await request.read() if request.can_read_body else None
        async with self._http.request(request.method, self.upstream + request.path_qs,
                                      headers=headers, data=body,
                                      allow_redirects=False) as up:
            out = {k: v for k, v in up.headers.items() if k in _PASSED_HEADERS}
            data = await up.read()
        if get is None or fault is None or up.status >= 300:
            if get is not None:
                get.sent += len(data)
                self.sent[get.digest] += len(data)
            return web.Response(status=up.status, body=data, headers=out)
        return await self._faulty(request, get, fault, up.status, out, data)

    async def _faulty(self, request: web.Request, get: Get, fault: Fault, status: int,
                      headers: dict[str, str], data: bytes) -> web.StreamResponse:
        if fault.kind == "wrong":
            data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        elif fault.kind == "truncate":
            data = data[: len(data) // 2]
        headers["Content-Length"] = str(len(data))
        resp = web.StreamResponse(status=status, headers=headers)
        await resp.prepare(request)
        limit = fault.after if fault.kind == "cut" else len(data)
        for start in range(0, min(limit, len(data)), _STEP):
            chunk = data[start:min(start + _STEP, limit)]
            await resp.write(chunk)
            get.sent += len(chunk)
            self.sent[get.digest] += len(chunk)
            if fault.kind == "throttle":
                await asyncio.sleep(len(chunk) / fault.rate)
        if fault.kind == "cut":
            assert request.transport is not None
            request.transport.close()
            return resp
        await resp.write_eof()
        return resp


@contextmanager
def registry_proxy(upstream: str) -> Iterator[tuple[str, RegistryProxy]]:
    """(``127.0.0.1:<port>``, the proxy) in front of ``upstream`` (``host:port``)."""
    proxy = RegistryProxy(upstream)
    server = ServerThread(proxy.app())
    port = server.start()
    try:
        yield f"127.0.0.1:{port}", proxy
    finally:
        server.stop()


def oversized_manifest(size: int) -> bytes:
    """A well-formed OCI manifest padded with an annotation past ``size`` bytes."""
    return json.dumps({"schemaVersion": 2, "annotations": {"pad": "x" * size},
                       "config": {}, "layers": []}).encode()
