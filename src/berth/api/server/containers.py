"""Routes of ``/containers``: moby's container router, calling a ContainerBackend."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from berth.api.server import container_json, container_resources, params
from berth.api.server.app import Router, json_response
from berth.api.server.backend import (
    ContainerAdminBackend,
    ContainerBackend,
    ExecBackend,
    NetworkBackend,
    VolumeBackend,
)
from berth.api.server.execs import window_size
from berth.api.server.hijack import hijack
from berth.api.server.image_archives import stream_tar
from berth.api.server.relay import parse_detach_keys, splice
from berth.api.types import responses as wire
from berth.api.types.containers import ContainerCreate, ContainerUpdate
from berth.engine import clock
from berth.engine.containers import logs
from berth.engine.containers.admin import PruneFilters, parse_until
from berth.engine.containers.model import Container
from berth.engine.containers.waiters import AttachRequest
from berth.engine.volumes.model import MountPoint
from berth.errors import InvalidArgument, NotFound
from berth.formats.stdcopy import encode_frame

_CLIENT_HEADER_GRACE = 0.05  # seconds


@dataclass(frozen=True)
class ContainerRoutes:
    service: ContainerBackend
    execs: ExecBackend
    admin: ContainerAdminBackend
    data_root: str
    driver: str  # the snapshotter: inspect's Driver and GraphDriver.Name
    networks: NetworkBackend  # NetworkSettings, ps's Ports and Networks
    volumes: VolumeBackend | None = None  # inspect's and ps's Mounts (None: none shown)

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
        r.add("POST", "/containers/{id}/resize", self.resize)
        r.add("POST", "/containers/{id}/pause", self.pause)
        r.add("POST", "/containers/{id}/unpause", self.unpause)
        r.add("GET", "/containers/{id}/top", self.top)
        r.add("POST", "/containers/{id}/rename", self.rename)
        r.add("POST", "/containers/prune", self.prune)
        r.add("GET", "/containers/{id}/export", self.export)
        r.add("POST", "/containers/{id}/update", self.update)

    async def create(self, request: web.Request) -> web.Response:
        body = await params.body(request, ContainerCreate)
        spec = container_json.spec_from_create(body)
        c = await self.service.create(request.query.get("name") or None, spec)
        created: wire.ContainerCreateResponse = {
            "Id": c.id, "Warnings": container_resources.warnings(body.HostConfig)}
        return json_response(created, status=201)

    async def list(self, request: web.Request) -> web.Response:
        show_all = params.boolean(request, "all")
        limit = params.integer(request, "limit", -1) or -1
        filters = params.filters(request)
        on = self._network_ids(filters.pop("network", None))
        shown = [c for c in self.service.list()
                 if (show_all or limit > 0 or c.state.running or "status" in filters)
                 and container_json.matches(c, filters)
                 and (on is None or any(e.network in on for e in c.spec.endpoints))]
        out = [container_json.summary(c, self.networks.container_network(c),
                                      self._mount_points(c))
               for c in (shown[:limit] if limit > 0 else shown)]
        if params.boolean(request, "size"):
            for doc in out:
                doc["SizeRw"], doc["SizeRootFs"] = await self.admin.sizes(doc["Id"])
        return json_response(out)

    def _network_ids(self, refs: builtins.list[str] | None) -> set[str] | None:
        """ps's ``network`` filter (names or ids) as network ids; None: no such filter."""
        if refs is None:
            return None
        ids = set()
        for ref in refs:
            with contextlib.suppress(NotFound, InvalidArgument):
                ids.add(self.networks.get(ref).id)
        return ids

    async def inspect(self, request: web.Request) -> web.Response:
        c = self.service.get(request.match_info["id"])
        doc = container_json.inspect(c, self.data_root, self.driver,
                                     self.networks.container_network(c),
                                     self.execs.ids_for(c.id), self._mount_points(c),
                                     self.volumes.get if self.volumes else None)
        if params.boolean(request, "size"):
            doc["SizeRw"], doc["SizeRootFs"] = await self.admin.sizes(c.id)
        return json_response(doc)

    def _mount_points(self, c: Container) -> builtins.list[MountPoint]:
        return self.volumes.mount_points(c) if self.volumes is not None else []

    async def start(self, request: web.Request) -> web.Response:
        await self.service.start(request.match_info["id"])
        return web.Response(status=204)

    async def stop(self, request: web.Request) -> web.Response:
        await self.service.stop(request.match_info["id"], params.integer(request, "t"),
                                request.query.get("signal", ""))
        return web.Response(status=204)

    async def restart(self, request: web.Request) -> web.Response:
        await self.service.restart(request.match_info["id"], params.integer(request, "t"),
                                   request.query.get("signal", ""))
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
        # docker's WaitResponse: Error is omitted when there is none
        result: wire.ContainerWaitResponse = {"StatusCode": code}
        await response.write(json.dumps(result).encode() + b"\n")
        await response.write_eof()
        return response

    async def remove(self, request: web.Request) -> web.Response:
        await self.service.remove(request.match_info["id"], params.boolean(request, "force"),
                                  params.boolean(request, "v"))
        return web.Response(status=204)

    async def logs(self, request: web.Request) -> web.StreamResponse:
        c = self.service.get(request.match_info["id"])
        opts = logs.LogOptions(
            stdout=params.boolean(request, "stdout"), stderr=params.boolean(request, "stderr"),
            follow=params.boolean(request, "follow"), tail=_tail(request.query.get("tail")),
            since=_time(request.query.get("since")), until=_time(request.query.get("until")),
            timestamps=params.boolean(request, "timestamps"),
            details=params.boolean(request, "details"), attrs=logs.extra_attributes(c))
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
        stream = params.boolean(request, "stream", True)
        replay = params.boolean(request, "logs")
        if not (stream or replay):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        keys_spec = request.query.get("detachKeys", "")
        try:
            keys = parse_detach_keys(keys_spec)
        except ValueError:
            raise InvalidArgument(f"Invalid detach keys ({keys_spec}) provided") from None
        if replay and c.spec.log_config.type == "none":
            raise InvalidArgument("configured logging driver does not support reading")
        response, conn = await hijack(request, multiplexed=not c.spec.tty)
        try:
            if replay:  # docker: what the log holds first, then (with stream) live output
                # docker-py reads a hijacked stream from the raw socket behind the buffer
                # http.client parsed the 101 with: bytes sent along with the headers are
                # lost to it, so the replay waits until the client has had them.
                await asyncio.sleep(_CLIENT_HEADER_GRACE)
                opts = logs.LogOptions(stdout=req.stdout, stderr=req.stderr)
                async for line in logs.read(Path(c.log_path), opts, lambda: False):
                    await conn.write(line.data if c.spec.tty
                                     else encode_frame(line.stream, line.data))
            if stream:
                reader, writer = await self.service.attach(c.id, req)
                if await splice(conn, reader, writer, req.stdin,
                                keys if c.spec.tty else None):
                    self.service.publish(c, "detach")
        finally:
            conn.close()
        return response

    async def resize(self, request: web.Request) -> web.Response:
        height, width = window_size(request)
        await self.service.resize(request.match_info["id"], height, width)
        return web.Response(status=200)

    async def pause(self, request: web.Request) -> web.Response:
        await self.service.pause(request.match_info["id"])
        return web.Response(status=204)

    async def unpause(self, request: web.Request) -> web.Response:
        await self.service.unpause(request.match_info["id"])
        return web.Response(status=204)

    async def top(self, request: web.Request) -> web.Response:
        table = await self.admin.top(request.match_info["id"], request.query.get("ps_args", ""))
        return json_response({"Titles": list(table.titles),
                              "Processes": [list(p) for p in table.processes]})

    async def rename(self, request: web.Request) -> web.Response:
        await self.admin.rename(request.match_info["id"], request.query.get("name", ""))
        return web.Response(status=204)

    async def update(self, request: web.Request) -> web.Response:
        """``docker update``: the body checked alone (400), then merged into the
        container's record and its running cgroup (container_resources, engine update)."""
        body = await params.body(request, ContainerUpdate)
        change, warnings = container_resources.update_from(body)
        await self.service.update(request.match_info["id"], change)
        return json_response({"Warnings": warnings})

    async def export(self, request: web.Request) -> web.StreamResponse:
        return await stream_tar(request, await self.admin.export(request.match_info["id"]))

    async def prune(self, request: web.Request) -> web.Response:
        filters = params.filters(request)
        unknown = set(filters) - {"until", "label", "label!"}
        if unknown:
            raise InvalidArgument(f"invalid filter '{sorted(unknown)[0]}'")
        until = [parse_until(v) for v in filters.get("until", [])]
        report = await self.admin.prune(PruneFilters(
            until=min(until) if until else None, labels=tuple(filters.get("label", [])),
            not_labels=tuple(filters.get("label!", []))))
        return json_response({"ContainersDeleted": list(report.deleted) or None,
                              "SpaceReclaimed": report.space_reclaimed})


def _tail(value: str | None) -> int:
    if value is None or value == "all" or value == "":
        return -1
    try:
        return max(int(value), 0)
    except ValueError:
        raise InvalidArgument(f"invalid value for tail: {value!r}") from None


def _time(value: str | None) -> float:
    """logs' since/until; 0 when absent."""
    if not value:
        return 0.0
    try:
        return clock.parse_point(value)
    except ValueError:
        raise InvalidArgument(f"invalid time value: {value!r}") from None
