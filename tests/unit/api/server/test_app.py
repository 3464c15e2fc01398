"""The one exception → answer mapping: every error is docker's JSON, never a plain 500."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from berth.api.server.app import Router, make_app
from berth.errors import NotFound


def _routes(r: Router) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise KeyError("surprise")

    async def missing(request: web.Request) -> web.Response:
        raise NotFound("No such container: x")

    r.add("GET", "/boom", boom)
    r.add("GET", "/missing", missing)


async def _get(path: str) -> tuple[int, str, object]:
    async with TestClient(TestServer(make_app([_routes]))) as client:
        resp = await client.get(path)
        return resp.status, resp.headers["Content-Type"], await resp.json()


def test_an_unexpected_exception_is_a_json_500(caplog) -> None:
    status, ctype, body = asyncio.run(_get("/v1.45/boom"))
    assert (status, ctype) == (500, "application/json")
    assert body == {"message": "internal error: KeyError: 'surprise'"}
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(logged) == 1 and "/v1.45/boom" in logged[0].getMessage()


def test_berth_errors_keep_their_status() -> None:
    assert asyncio.run(_get("/missing")) == (404, "application/json",
                                             {"message": "No such container: x"})
