"""Routes of ``/images``: list, inspect, remove, tag, import, and Berth's bootstrap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router, json_response
from berth.api.server.backend import ContainerBackend, ImageBackend
from berth.api.server.distribution import PushRenderer, auth_config, registry_auth
from berth.api.server.image_archives import ImageArchiveRoutes
from berth.api.server.progress import ProgressStream
from berth.api.types import responses as wire
from berth.api.types.auth import AuthConfig as AuthConfigBody
from berth.engine import clock
from berth.engine.images.filters import parse_filters
from berth.engine.images.image import Image
from berth.engine.images.pull import PullProgress, Step
from berth.errors import InvalidArgument
from berth.oci import reference


def summary(img: Image) -> wire.ImageSummary:
    cfg = img.config.get("config", {})
    return {
        "Id": img.id, "ParentId": img.parent, "RepoTags": list(img.repo_tags),
        "RepoDigests": list(img.repo_digests), "Created": int(clock.parse(img.created)),
        "Size": img.size, "SharedSize": -1, "VirtualSize": img.size,
        "Labels": cfg.get("Labels") or {}, "Containers": -1,
    }


def inspect(img: Image, driver: str) -> wire.ImageInspect:
    cfg = img.config
    return {
        "Id": img.id, "RepoTags": list(img.repo_tags), "RepoDigests": list(img.repo_digests),
        "Parent": img.parent, "Comment": img.comment, "Created": img.created,
        "DockerVersion": "", "Author": cfg.get("author", ""), "Config": cfg.get("config", {}),
        "Architecture": cfg["architecture"], "Os": cfg["os"], "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": {"Name": driver, "Data": None},
        "RootFS": {"Type": "layers", "Layers": list(cfg["rootfs"]["diff_ids"])},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(1 << 20):
        yield chunk


@dataclass
class PullRenderer:
    """``PullProgress`` events as docker's JSON progress messages."""

    progress: ProgressStream
    name: str

    async def send(self, event: PullProgress) -> None:
        if event.step is Step.RESOLVED:
            ref = reference.parse(self.name)
            await self.progress.send(status=f"Pulling from {ref.path}",
                                     id=ref.tag or ref.digest or "latest")
            return
        short = event.digest.removeprefix("sha256:")[:12]
        if event.step is Step.DOWNLOADING:
            await self.progress.send_bar(event.step.value, short, event.current, event.total)
        else:
            await self.progress.send(status=event.step.value, progressDetail={}, id=short)


@dataclass(frozen=True)
class ImageRoutes:
    images: ImageBackend
    containers: ContainerBackend
    driver: str  # the snapshotter, GraphDriver.Name

    def register(self, r: Router) -> None:
        r.add("GET", "/images/json", self.list)
        ImageArchiveRoutes(self.images, self.containers).register(r)
        r.add("POST", "/images/create", self.create)
        r.add("POST", "/images/bootstrap", self.bootstrap)
        r.add("GET", "/images/{name:.+}/json", self.inspect)
        r.add("POST", "/images/{name:.+}/tag", self.tag)
        r.add("POST", "/images/{name:.+}/push", self.push)
        r.add("POST", "/auth", self.auth)
        r.add("DELETE", "/images/{name:.+}", self.remove)

    async def list(self, request: web.Request) -> web.Response:
        images = await self.images.list(all=params.boolean(request, "all"),
                                        filters=parse_filters(params.filters(request)))
        return json_response([summary(i) for i in images])

    async def inspect(self, request: web.Request) -> web.Response:
        return json_response(inspect(await self.images.get(request.match_info["name"]),
                                     self.driver))

    async def tag(self, request: web.Request) -> web.Response:
        repo = request.query.get("repo")
        if not repo:
            raise InvalidArgument("repository name must have at least one component")
        tag = request.query.get("tag") or "latest"
        await self.images.tag(request.match_info["name"], repo, tag)
        return web.Response(status=201)

    async def remove(self, request: web.Request) -> web.Response:
        items = await self.images.remove(request.match_info["name"],
                                         params.boolean(request, "force"),
                                         self.containers.image_users,
                                         prune=not params.boolean(request, "noprune"))
        return json_response([{kind: value} for kind, value in items])

    async def create(self, request: web.Request) -> web.StreamResponse:
        source = request.query.get("fromSrc")
        if source is None:
            return await self.pull(request)
        if source != "-":
            raise InvalidArgument("importing from a URL is not supported; send the tarball")
        repo, tag = request.query.get("repo") or "", request.query.get("tag") or ""
        repo_tag = None
        if repo:  # docker's client sends the whole reference in repo ("myimg:1")
            ref = reference.parse(repo)
            repo_tag = (ref.with_tag(tag) if tag else ref.with_default_tag()).familiar()
        async with ProgressStream(request) as progress:
            img = await self.images.import_image(
                _body(request), repo_tag, request.query.getall("changes", []),
                request.query.get("message", ""))
            await progress.send(status=img.id)
        return progress.response

    async def pull(self, request: web.Request) -> web.StreamResponse:
        name, tag = request.query.get("fromImage", ""), request.query.get("tag", "")
        if not name:
            raise InvalidArgument("fromImage is required")
        if tag:  # docker's client sends the tag (or a digest) apart from the name
            name = f"{name}@{tag}" if tag.startswith("sha256:") else f"{name}:{tag}"
        ref = reference.parse(name)
        # a bare repository is dockerd's "pull every tag" (``docker pull -a``)
        every_tag = ref.tag is None and ref.digest is None
        auth, platform = registry_auth(request), request.query.get("platform", "")
        async with ProgressStream(request, lazy=True) as progress:
            names = [f"{name}:{t}" for t in await self.images.registry_tags(name, auth)] \
                if every_tag else [name]
            updated = False
            for one in names:
                result = await self.images.pull(one, PullRenderer(progress, one).send, auth,
                                                platform)
                await progress.send(status=f"Digest: {result.digest}")
                updated |= result.updated
            verdict = "Downloaded newer image for" if updated else "Image is up to date for"
            shown = ref.familiar_name() if every_tag else result.reference.familiar()
            await progress.send(status=f"Status: {verdict} {shown}")
        return progress.response

    async def push(self, request: web.Request) -> web.StreamResponse:
        auth = registry_auth(request)
        async with ProgressStream(request, lazy=True) as progress:
            await self.images.push(request.match_info["name"], request.query.get("tag", ""),
                                   PushRenderer(progress).send, auth)
        return progress.response

    async def auth(self, request: web.Request) -> web.Response:
        auth = auth_config(await params.body(request, AuthConfigBody))
        if auth is None:
            raise InvalidArgument("login needs a username and password, or an identity token")
        await self.images.login(auth)
        return json_response({"Status": "Login Succeeded", "IdentityToken": ""})

    async def bootstrap(self, request: web.Request) -> web.StreamResponse:
        name = request.query.get("name") or request.query.get("fromImage") or ""
        if not name:
            raise InvalidArgument("bootstrap needs an image name, e.g. busybox")
        # lazy: bad input (an unknown suite, no debootstrap) gets its own status
        async with ProgressStream(request, lazy=True) as progress:
            async def status(line: str) -> None:
                await progress.send(status=line)

            img = await self.images.bootstrap(name, request.query.get("mirror", ""), status)
            await progress.send(status=f"Bootstrapped {', '.join(img.repo_tags)}", id=img.id)
        return progress.response
