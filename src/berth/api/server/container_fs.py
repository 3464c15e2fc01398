"""A container's files: ``docker cp`` (``/containers/{id}/archive``), ``docker diff``
(``/containers/{id}/changes``) and ``docker commit`` (``/commit``), as moby's
``router/container/copy.go`` and ``container_routes.go`` serve them."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncGenerator
from typing import cast

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router, json_response
from berth.api.server.backend import (
    ContainerChangesBackend,
    ContainerCommitBackend,
    ContainerFsBackend,
)
from berth.engine.containers.archive import ExtractOptions, PathStat
from berth.engine.containers.commit import CommitOptions
from berth.errors import InvalidArgument
from berth.oci.image import ContainerConfig

STAT_HEADER = "X-Docker-Container-Path-Stat"
# The Config fields an image keeps (docker's commit ignores the rest of a Config).
_STR_SLICES = ("Cmd", "Entrypoint", "Shell")
_KEPT = ("User", "ExposedPorts", "Env", "Volumes", "WorkingDir", "Labels", "StopSignal",
         "Healthcheck", "OnBuild", *_STR_SLICES)


class ContainerFsRoutes:
    def __init__(self, archive: ContainerFsBackend, changes: ContainerChangesBackend,
                 commits: ContainerCommitBackend) -> None:
        self.archive = archive
        self.changes_backend = changes
        self.commits = commits

    def register(self, r: Router) -> None:
        r.add("HEAD", "/containers/{id}/archive", self.stat)
        r.add("GET", "/containers/{id}/archive", self.get)
        r.add("PUT", "/containers/{id}/archive", self.put)
        r.add("GET", "/containers/{id}/changes", self.changes)
        r.add("POST", "/commit", self.commit)

    async def stat(self, request: web.Request) -> web.Response:
        found = await self.archive.stat(request.match_info["id"], _path(request))
        return web.Response(headers={STAT_HEADER: stat_header(found)})

    async def get(self, request: web.Request) -> web.StreamResponse:
        found, chunks = await self.archive.get(request.match_info["id"], _path(request))
        return await _stream(request, found, chunks)

    async def put(self, request: web.Request) -> web.Response:
        # moby: overwriting a directory with a non-directory is allowed unless asked not to
        options = ExtractOptions(
            no_overwrite_dir_non_dir=params.boolean(request, "noOverwriteDirNonDir"),
            copy_uid_gid=params.boolean(request, "copyUIDGID"))
        await self.archive.put(request.match_info["id"], _path(request),
                               request.content.iter_any(), options)
        return web.Response(status=200)

    async def changes(self, request: web.Request) -> web.Response:
        found = await self.changes_backend.changes(request.match_info["id"])
        # docker's nil slice: "null" when nothing changed
        return json_response([{"Path": c.path, "Kind": int(c.kind)} for c in found] or None)

    async def commit(self, request: web.Request) -> web.Response:
        body = await request.read()
        options = CommitOptions(
            repo=request.query.get("repo", ""), tag=request.query.get("tag", ""),
            comment=request.query.get("comment", ""), author=request.query.get("author", ""),
            # API >= 1.13: pause unless pause= is given and false
            pause=params.boolean(request, "pause", default=True),
            changes=tuple(request.query.getall("changes", [])),
            config=commit_config(body))
        image_id = await self.commits.commit(request.query.get("container", ""), options)
        return json_response({"Id": image_id}, status=201)


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidArgument("path cannot be empty")
    return path


async def _stream(request: web.Request, found: PathStat,
                  chunks: AsyncGenerator[bytes, None]) -> web.StreamResponse:
    """The tar as it is made, the stat in a header before it (as docker's)."""
    async with contextlib.aclosing(chunks):
        response = web.StreamResponse(headers={"Content-Type": "application/x-tar",
                                               STAT_HEADER: stat_header(found)})
        await response.prepare(request)
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    return response


def stat_header(found: PathStat) -> str:
    """docker's ``X-Docker-Container-Path-Stat``: base64 of the PathStat's JSON."""
    data = {"name": found.name, "size": found.size, "mode": found.mode,
            "mtime": found.mtime, "linkTarget": found.link_target}
    return base64.b64encode(json.dumps(data).encode()).decode()


def commit_config(body: bytes) -> ContainerConfig | None:
    """The request's Config (None for an empty or ``null`` body), the fields an image
    keeps; a string Cmd/Entrypoint/Shell is one word, as Go's StrSlice."""
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"invalid JSON: {err}") from err
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidArgument("json: cannot unmarshal into Go value of type container.Config")
    out: dict[str, object] = {}
    for key in _KEPT:
        value = data.get(key)
        if value is None:
            continue
        if key in _STR_SLICES and isinstance(value, str):
            value = [value]
        out[key] = value
    return cast(ContainerConfig, out)
