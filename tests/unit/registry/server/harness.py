"""A registry served on 127.0.0.1:<random port> from a thread, and a plain HTTP client.

The client is ``http.client`` on purpose: the tests control every header (Content-Range,
Content-Length, chunked bodies) and see every status, with no registry client in between.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


class ServerThread:
    """Runs ``app`` on its own event loop; ``start`` returns the port, ``stop`` joins."""

    def __init__(self, app: web.Application, ssl_context: ssl.SSLContext | None = None):
        self.app = app
        self.ssl_context = ssl_context
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self.port

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # reported to start(); the thread must not die silently
            self._error = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # aiohttp lingers up to 10 s reading a body it refused (an oversized manifest);
        # a short shutdown timeout cancels that instead of waiting it out.
        runner = web.AppRunner(self.app, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_codes(self) -> list[str]:
        return [e["code"] for e in self.json()["errors"]]


@dataclass
class Client:
    port: int
    auth: tuple[str, str] | None = None
    ssl_context: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    default_headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, chunked: bool = False) -> Response:
        if self.ssl_context is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, context=self.ssl_context, timeout=30)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        all_headers = dict(self.default_headers)
        if self.auth is not None:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            all_headers["Authorization"] = f"Basic {token}"
        all_headers.update(headers or {})
        try:
            if chunked:
                conn.request(method, path, body=iter([body or b""]), headers=all_headers,
                             encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw: Any) -> Response:
        return self.request("HEAD", path, **kw)
