"""Routes of ``/containers``: moby's container router, calling the ContainerService."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from berth.api.server import container_json, params
from berth.api.server.app import Router, json_response
from berth.api.server.hijack import Hijacked, hijack
from berth.api.types.stdcopy import encode_frame
from berth.engine import clock
from berth.engine.containers import logs
from berth.engine.containers.service import AttachRequest, ContainerService
from berth.errors import InvalidArgument


@dataclass(frozen=True)
class ContainerRoutes:
    service: ContainerService
    data_root: str

    def register(self, r: Router) -> None:
        r.add("POST", "/containers/create", self.create)
        r.add("GET", "/containers/json", self.list)
        r.add("GET", "/containers/{id}/json", self.inspect)
        r.add("POST", "/containers/{id}/start", self.start)
        r.add("POST", "/containers/{id}/stop", self.stop)
        r.add("POST", "/containers/{id}/restart", self.restart)
        r.add("POST", "/containers/{id}/kill", self.kill)
        r.add("POST", "/containers/{id}/wait", self.wait)
        r.add("DELETE", "/containers/{id}", self.remove)
        r.add("GET", "/containers/{id}/logs", self.logs)
        r.add("POST", "/containers/{id}/attach", self.attach)

    async def create(self, request: web.Request) -> web.Response:
        spec = container_json.spec_from_create(await params.json_body(request))
        c = await self.service.create(request.query.get("name") or None, spec)
        return json_response({"Id": c.id, "Warnings": []}, status=201)

    async def list(self, request: web.Request) -> web.Response:
        show_all = params.boolean(request, "all")
        limit = params.integer(request, "limit", -1) or -1
        filters = params.filters(request)
        out = [container_json.summary(c) for c in self.service.list()
               if (show_all or limit > 0 or c.state.running or "status" in filters)
               and container_json.matches(c, filters)]
        return json_response(out[:limit] if limit > 0 else out)

    async def inspect(self, request: web.Request) -> web.Response:
        c = self.service.get(request.match_info["id"])
        return json_response(container_json.inspect(c, self.data_root))

    async def start(self, request: web.Request) -> web.Response:
        await self.service.start(request.match_info["id"])
        return web.Response(status=204)

    async def stop(self, request: web.Request) -> web.Response:
        await self.service.stop(request.match_info["id"], params.integer(request, "t"),
                                request.query.get("signal", ""))
        return web.Response(status=204)

    async def restart(self, request: web.Request) -> web.Response:
        ref = request.match_info["id"]
        if self.service.get(ref).state.running:
            await self.service.stop(ref, params.integer(request, "t"),
                                    request.query.get("signal", ""))
        await self.service.start(ref)
        return web.Response(status=204)

    async def kill(self, request: web.Request) -> web.Response:
        await self.service.kill(request.match_info["id"], request.query.get("signal", "SIGKILL"))
        return web.Response(status=204)

    async def wait(self, request: web.Request) -> web.StreamResponse:
        # The future exists before the headers go out: docker's CLI starts the container
        # as soon as it has them, and must not miss a fast exit.
        fut = self.service.waiter(request.match_info["id"],
                                  request.query.get("condition") or "not-running")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        code = await fut
        await response.write(json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n")
        await response.write_eof()
        return response

    async def remove(self, request: web.Request) -> web.Response:
        await self.service.remove(request.match_info["id"], params.boolean(request, "force"))
        return web.Response(status=204)

    async def logs(self, request: web.Request) -> web.StreamResponse:
        c = self.service.get(request.match_info["id"])
        opts = logs.LogOptions(
            stdout=params.boolean(request, "stdout"), stderr=params.boolean(request, "stderr"),
            follow=params.boolean(request, "follow"), tail=_tail(request.query.get("tail")),
            since=_time(request.query.get("since")), until=_time(request.query.get("until")),
            timestamps=params.boolean(request, "timestamps"))
        if not (opts.stdout or opts.stderr):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        if c.spec.log_config.type == "none":
            raise InvalidArgument('configured logging driver does not support reading')
        tty = c.spec.tty
        response = web.StreamResponse(headers={
            "Content-Type": "application/vnd.docker.raw-stream" if tty
            else "application/vnd.docker.multiplexed-stream"})
        await response.prepare(request)

        def running() -> bool:
            with contextlib.suppress(Exception):
                return self.service.get(c.id).state.running
            return False

        async for line in logs.read(Path(c.log_path), opts, running):
            await response.write(line.data if tty else encode_frame(line.stream, line.data))
        await response.write_eof()
        return response

    async def attach(self, request: web.Request) -> web.StreamResponse:
        c = self.service.get(request.match_info["id"])
        req = AttachRequest(stdin=params.boolean(request, "stdin"),
                            stdout=params.boolean(request, "stdout"),
                            stderr=params.boolean(request, "stderr"))
        if not params.boolean(request, "stream", True):
            raise InvalidArgument("attach without stream is not supported")
        response, conn = await hijack(request, multiplexed=not c.spec.tty)
        try:
            reader, writer = await self.service.attach(c.id, req)
        except Exception:
            conn.close()
            raise
        await _splice(conn, reader, writer, req.stdin)
        return response


async def _splice(conn: Hijacked, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  stdin: bool) -> None:
    """Copy shim output to the client and client input to the shim until output ends."""

    async def pump_in() -> None:
        while data := await conn.reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    pump = asyncio.create_task(pump_in()) if stdin else None
    try:
        while data := await reader.read(65536):
            await conn.write(data)
    except ConnectionError:
        pass  # the client went away; the container keeps running
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await pump
        writer.close()
        conn.close()


def _tail(value: str | None) -> int:
    if value is None or value == "all" or value == "":
        return -1
    try:
        return max(int(value), 0)
    except ValueError:
        raise InvalidArgument(f"invalid value for tail: {value!r}") from None


def _time(value: str | None) -> float:
    """docker's since/until: unix seconds with optional fraction, or RFC 3339."""
    if not value:
        return 0.0
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return clock.parse(value)
    except ValueError:
        raise InvalidArgument(f"invalid time value: {value!r}") from None
