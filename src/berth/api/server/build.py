"""``POST /build``: docker's classic builder endpoint (``DOCKER_BUILDKIT=0 docker build``,
docker-py ``images.build``, compose).

The body is the context tar (plain or compressed), streamed to the builder. The answer
is JSON lines as the build goes: ``{"stream": ...}`` text (a RUN step's stderr in
``\\x1b[91m`` ... ``\\x1b[0m``, as moby's stderr writer wraps it), the pull of a missing
base image as ``docker pull``'s ``{"status": ..., "id": ...}`` messages, ``{"aux": {"ID":
...}}`` with the image built, and a failure as ``{"errorDetail": {"code": N, "message": ...},
"error": ...}``. An error before anything was sent (a bad Dockerfile, a bad tag) is an
ordinary error response instead, as moby answers it. With ``q`` the text is held back and
only the image ID is sent (or, on failure, the text with the error).

Build secrets (Berth's extension; docker's classic builder has none): ``berth build
--secret id=x,...`` sends each secret as an uncompressed ustar entry named
``.berth-secrets/<id>`` (a regular file, at most 500 KiB) at the very start of the body,
before the context archive, which may still be compressed. The builder takes them off the
stream before unpacking the context (:mod:`berth.engine.builder.secretstore`), so no secret
is ever part of the context COPY sees, nor of any layer or the history; ``RUN
--mount=type=secret,id=x`` reads it at ``/run/secrets/x``. A client that sends no such
entries (docker, docker-py, compose) is unaffected.

Incremental contexts (Berth's extension, :mod:`berth.engine.builder.contextcache`): ``POST
/build/context`` with ``{"key": K, "files": [[path, size, signature], ...]}`` answers
``{"base": G, "reuse": [index, ...]}``, the files the daemon still holds unchanged from the
last build of key K; the build's body then starts with a ``.berth-context`` entry (in the
same preamble as the secrets) listing every file and which ones were left out of the tar.
A base removed meanwhile is a 409 before any output (the CLI then sends everything).

``POST /build/prune`` (``docker builder prune``): removes the kept contexts and RUN cache
mount directories no build is using (:mod:`berth.engine.builder.prune`); ``filters`` takes
``until``, ``keep-storage`` is bytes, ``all`` is accepted (nothing is "dangling" here).
The answer is ``{"CachesDeleted": [...], "SpaceReclaimed": bytes}``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router, json_response
from berth.api.server.backend import BuildBackend
from berth.api.server.images import PullRenderer
from berth.api.server.progress import ProgressStream
from berth.api.types.build import BuildQuery
from berth.api.types.decode import from_query, unsupported
from berth.engine.builder.contextcache import MAX_MANIFEST
from berth.engine.builder.errors import CommandFailed
from berth.engine.builder.options import BuildOptions
from berth.engine.builder.prune import prune_options
from berth.engine.images.pull import PullProgress
from berth.errors import BerthError, InvalidArgument

# What the classic builder of berth honours of /build's query; any other parameter set to
# something other than its zero value (or the value the docker CLI sends for "default")
# is refused by name, never dropped.
_HONOURED = frozenset({"dockerfile", "t", "q", "nocache", "cachefrom", "pull", "rm",
                       "forcerm", "buildargs", "labels", "networkmode", "extrahosts",
                       "platform",
                       "target", "buildid"})
_DEFAULTS: dict[str, tuple[object, ...]] = {"version": ("1",), "isolation": ("default",)}


def query(request: web.Request) -> BuildQuery:
    repeated = {name: request.query.getall(name, []) for name in ("t", "extrahosts")}
    return from_query(request.query, repeated, BuildQuery)


def options(q: BuildQuery) -> BuildOptions:
    refused = unsupported(q, _HONOURED, _DEFAULTS)
    if refused is not None:
        raise InvalidArgument(f"berth does not support the build parameter {refused} yet")
    return BuildOptions(
        tags=tuple(q.t or ()),
        dockerfile=q.dockerfile or "Dockerfile",
        # a null value ("--build-arg X" with X unset) means "not given", as in moby
        build_args=tuple(sorted((k, v) for k, v in (q.buildargs or {}).items()
                                if v is not None)),
        target=q.target,
        no_cache=q.nocache,
        pull=q.pull,
        labels=tuple(sorted((q.labels or {}).items())),
        remove=q.rm,
        force_remove=q.forcerm,
        network_mode=q.networkmode,
        extra_hosts=tuple(q.extrahosts or ()),
        cache_from=tuple(q.cachefrom or ()),
        platform=q.platform,
    )


@dataclass
class _Output:
    progress: ProgressStream
    quiet: bool
    held: list[str]

    async def stream(self, text: str) -> None:
        if self.quiet:
            self.held.append(text)
        else:
            await self.progress.send(stream=text)

    async def stderr(self, text: str) -> None:
        # moby's streamformatter.NewStderrWriter: each write, wrapped in red
        await self.stream(f"\x1b[91m{text}\x1b[0m")

    async def aux(self, image_id: str) -> None:
        if self.quiet:
            await self.progress.send(stream=image_id + "\n")
        else:
            await self.progress.send(aux={"ID": image_id})

    async def pull(self, name: str, event: PullProgress) -> None:
        if not self.quiet:  # -q: only the pull's outcome is kept (``status``)
            await PullRenderer(self.progress, name).send(event)

    async def status(self, text: str) -> None:
        if self.quiet:
            self.held.append(text + "\n")
        else:
            await self.progress.send(status=text)


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    # whatever has arrived, as it arrived: the context's spooler batches it itself, so
    # aiohttp need not join pieces into fixed-size chunks first
    async for chunk in request.content.iter_any():
        yield chunk


@dataclass(frozen=True)
class BuildRoutes:
    builder: BuildBackend

    def register(self, r: Router) -> None:
        r.add("POST", "/build", self.build)
        r.add("POST", "/build/context", self.context)
        r.add("POST", "/build/prune", self.prune)

    async def context(self, request: web.Request) -> web.Response:
        raw = bytearray()
        async for chunk in request.content.iter_any():
            raw += chunk
            if len(raw) > MAX_MANIFEST:
                raise InvalidArgument("build context list too large")
        try:
            doc: Any = json.loads(raw)
            key = str(doc["key"])
            files = [(str(rel), int(size), str(sig)) for rel, size, sig in doc["files"]]
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidArgument(f"invalid build context list: {err}") from None
        base, reuse = self.builder.contexts.match(key, files)
        return web.json_response({"base": base, "reuse": reuse})

    async def build(self, request: web.Request) -> web.StreamResponse:
        q = query(request)
        opts = options(q)
        async with ProgressStream(request, lazy=True) as progress:
            output = _Output(progress, q.q, [])
            try:
                await self.builder.build(_body(request), opts, output)
            except BerthError as err:
                if not progress.started and not output.held:
                    raise  # nothing sent yet: an ordinary error response
                for text in output.held:
                    await progress.send(stream=text)
                detail: dict[str, Any] = {"message": err.message}
                if isinstance(err, CommandFailed):
                    detail["code"] = err.code
                await progress.send(errorDetail=detail, error=err.message)
        return progress.response

    async def prune(self, request: web.Request) -> web.Response:
        keep = request.query.get("keep-storage") or "0"
        try:
            keep_storage = int(keep)
        except ValueError:  # moby's words
            raise InvalidArgument(f"keep-storage is in bytes and expects an integer, "
                                  f"got {keep}") from None
        report = await self.builder.prune(prune_options(params.filters(request),
                                                        keep_storage))
        return json_response({"CachesDeleted": list(report.deleted) or None,
                              "SpaceReclaimed": report.space_reclaimed})
