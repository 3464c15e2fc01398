"""Routes of ``/images`` that move whole images in and out or look back and clean up:
save (``/images/get``), load, history and prune (moby's image router, same paths)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router, json_response
from berth.api.server.backend import ContainerBackend, ImageBackend
from berth.api.server.progress import ProgressStream
from berth.api.types import responses as wire
from berth.engine.images import prune
from berth.engine.images.history import HistoryItem
from berth.engine.images.load import Kind, LoadEvent


async def stream_tar(request: web.Request, chunks: AsyncGenerator[bytes, None]
                     ) -> web.StreamResponse:
    """A tar archive as the response body, sent as it is made."""
    async with contextlib.aclosing(chunks):
        response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        await response.prepare(request)
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    return response


def history_item(i: HistoryItem) -> wire.HistoryResponseItem:
    return {"Id": i.id, "Created": i.created, "CreatedBy": i.created_by,
            "Tags": list(i.tags) or None, "Size": i.size, "Comment": i.comment}


async def _body(request: web.Request) -> AsyncGenerator[bytes, None]:
    async for chunk in request.content.iter_chunked(1 << 20):
        yield chunk


@dataclass
class LoadRenderer:
    """``LoadEvent`` as dockerd's load output: a "Loading layer" bar per unpacked layer
    (unless quiet), then the lines as ``stream`` messages."""

    progress: ProgressStream
    quiet: bool

    async def send(self, event: LoadEvent) -> None:
        if event.kind is Kind.MESSAGE:
            await self.progress.send(stream=event.text + "\n")
        elif not self.quiet:
            short = event.diff_id.removeprefix("sha256:")[:12]
            await self.progress.send_bar("Loading layer", short, event.size, event.size)


@dataclass(frozen=True)
class ImageArchiveRoutes:
    images: ImageBackend
    containers: ContainerBackend

    def register(self, r: Router) -> None:
        r.add("GET", "/images/get", self.save_many)
        r.add("GET", "/images/{name:.+}/get", self.save)
        r.add("POST", "/images/load", self.load)
        r.add("GET", "/images/{name:.+}/history", self.history)
        r.add("POST", "/images/prune", self.prune)

    async def save(self, request: web.Request) -> web.StreamResponse:
        return await stream_tar(request, await self.images.save([request.match_info["name"]]))

    async def save_many(self, request: web.Request) -> web.StreamResponse:
        names = request.query.getall("names", [])
        return await stream_tar(request, await self.images.save(names))

    async def load(self, request: web.Request) -> web.StreamResponse:
        # not lazy: dockerd answers 200 at once and reports even a body that is no archive
        # in the stream, which docker-py's images.load() turns into its ImageLoadError
        async with ProgressStream(request) as progress:
            renderer = LoadRenderer(progress, params.boolean(request, "quiet"))
            await self.images.load(_body(request), renderer.send)
        return progress.response

    async def history(self, request: web.Request) -> web.Response:
        items = await self.images.history(request.match_info["name"])
        return json_response([history_item(i) for i in items])

    async def prune(self, request: web.Request) -> web.Response:
        filters = prune.parse_filters(params.filters(request))
        report = await self.images.prune(filters, self.containers.image_users)
        return json_response({
            "ImagesDeleted": [{kind: value} for kind, value in report.deleted] or None,
            "SpaceReclaimed": report.space_reclaimed})
